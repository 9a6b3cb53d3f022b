"""The ``qiskit-divi`` command: an argparse dispatcher with one subcommand per tool.

To add a subcommand, write a function that adds its arguments to a parser and one that
runs it (``args -> exit status``) in its module, and register them in :data:`SUBCOMMANDS`.
Modules are imported when the parser is built, one per subcommand.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable, Sequence
from typing import NamedTuple


class Subcommand(NamedTuple):
    """Where a subcommand lives: its module, its one-line help and its two functions."""

    module: str
    help: str
    add_arguments: str = "add_arguments"
    run: str = "run"


SUBCOMMANDS: dict[str, Subcommand] = {
    "emulator": Subcommand(
        "qiskit_divi.emulator.cli", "serve a local emulator of the Qoro REST API"
    ),
    "jobs": Subcommand(
        "qiskit_divi.jobs_cli", "list this machine's Qoro jobs, newest first, with status"
    ),
    "job": Subcommand(
        "qiskit_divi.jobs_cli",
        "show one Qoro job, --cancel it, or print its --result",
        add_arguments="add_job_arguments",
        run="run_job",
    ),
    "decode-histogram": Subcommand(
        "qiskit_divi.histogram_cli",
        "print the counts of a qh1/qh2 histogram (payload, envelope or results page) as JSON",
    ),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qiskit-divi", description="Tools of qiskit_divi.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, command in SUBCOMMANDS.items():
        module = importlib.import_module(command.module)
        sub = subparsers.add_parser(name, help=command.help)
        getattr(module, command.add_arguments)(sub)
        sub.set_defaults(_run=getattr(module, command.run))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "_run", None) is None:
        parser.print_help()
        return 2
    run: Callable[[argparse.Namespace], int] = args._run
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
