"""The ``qiskit-divi`` command: an argparse dispatcher with one subcommand per tool.

To add a subcommand, write ``add_arguments(parser)`` and ``run(args) -> int`` in
its module and register them in :data:`SUBCOMMANDS`.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable, Sequence

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "emulator": ("qiskit_divi.emulator.cli", "serve a local emulator of the Qoro REST API"),
}
"""name -> (module with add_arguments/run, one-line help)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qiskit-divi", description="Tools of qiskit_divi.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        sub = subparsers.add_parser(name, help=help_text)
        module.add_arguments(sub)
        sub.set_defaults(_run=module.run)
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
