"""Command line of the emulator: ``qiskit-divi emulator`` and ``python -m qiskit_divi.emulator``."""

from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import sys
import threading
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from .accounts import credit_amount
from .config import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_JOB_MEMORY_BYTES, EmulatorConfig
from .faults import ENDPOINTS, GATEWAY_STATUSES, MIX_SHARES, FaultConfig
from .systems import DEFAULT_SYSTEMS, ENGINE_CHOICES, MAESTRO_Q_BITS, SystemSpec

DEFAULT_PORT = 8765

DESCRIPTION = """\
Serve a local emulator of the Qoro REST API (qiskit-aer backed; qoro_maestro on
Qoro's Maestro when the maestro extra is installed) on loopback. It prints the
base URL and the environment lines for clients, then serves until Ctrl-C."""


def _system_line(system: SystemSpec) -> str:
    expectation = ", EXPECTATION" if system.supports_expectation else ""
    return f"{system.name} ({system.q_bits} qubits, {system.system_kind}{expectation})"


EPILOG = (
    "systems: "
    + ", ".join(_system_line(s) for s in DEFAULT_SYSTEMS)
    + f" (qoro_maestro: {MAESTRO_Q_BITS} qubits on Maestro)"
    + f"\nfault endpoints: {', '.join(sorted(ENDPOINTS))}"
)


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a fraction between 0 and 1")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not value >= 0.0:
        raise argparse.ArgumentTypeError(f"{text} is not a non-negative number of seconds")
    return value


def _credits(text: str) -> Decimal:
    try:
        return credit_amount(text, "--credits")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text} is not a positive number of seconds")
    return value


def _csv(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the emulator's options to ``parser`` (shared by both entry points)."""
    parser.description = DESCRIPTION
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    net = parser.add_argument_group("server")
    net.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    net.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help="port; 0 picks a free one (default: %(default)s)",
    )
    net.add_argument(
        "--token",
        action="append",
        dest="tokens",
        metavar="TOKEN",
        help="accepted bearer token (repeatable); default: $QORO_API_KEY, "
        "else a random token that is printed",
    )
    net.add_argument(
        "--allow-remote", action="store_true", help="allow binding a non-loopback address"
    )
    net.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    emu = parser.add_argument_group("emulation")
    emu.add_argument("--seed", type=int, default=None, help="seed of transpiler and Aer sampler")
    emu.add_argument(
        "--engine",
        choices=ENGINE_CHOICES,
        default="auto",
        help="simulator of qoro_maestro: aer, maestro (Qoro's Maestro, the maestro extra; "
        "statevector, matrix-product state on wide circuits) or auto: maestro when installed "
        "(default: %(default)s)",
    )
    emu.add_argument(
        "--min-job-seconds",
        type=_seconds,
        default=0.1,
        help="minimum time a job stays non-terminal (default: %(default)s)",
    )
    emu.add_argument(
        "--max-shots",
        type=int,
        default=1_000_000,
        help="largest accepted shots (default: %(default)s)",
    )
    emu.add_argument(
        "--max-body-bytes",
        type=int,
        default=DEFAULT_MAX_BODY_BYTES,
        help="larger request bodies get 413 (default: %(default)s)",
    )
    emu.add_argument(
        "--max-job-memory-mb",
        type=int,
        default=DEFAULT_MAX_JOB_MEMORY_BYTES // 2**20,
        help="jobs estimated to need more memory get 400 at add_circuits (default: %(default)s)",
    )
    emu.add_argument(
        "--max-open-jobs",
        type=int,
        default=1000,
        help="open (not finalised) jobs per token; more get 429 (default: %(default)s)",
    )
    emu.add_argument(
        "--max-jobs",
        type=int,
        default=10_000,
        help="jobs held in all; the longest-finished are evicted first, then 429 "
        "(default: %(default)s)",
    )
    emu.add_argument(
        "--job-retention",
        type=_seconds,
        default=86_400.0,
        metavar="SECONDS",
        help="finished jobs are dropped this long after they ended (default: %(default)s)",
    )
    emu.add_argument(
        "--credits",
        type=_credits,
        default=None,
        metavar="AMOUNT",
        help="each token's starting credit balance, e.g. 500 or 12.50; jobs are charged "
        "0.01 per circuit + 0.01 per 1000 shots (EXPECTATION: 0.01 per circuit per term) and "
        "end INSUFFICIENT_CREDITS beyond it (default: unlimited)",
    )
    emu.add_argument(
        "--max-job-seconds",
        type=_positive_seconds,
        default=None,
        metavar="SECONDS",
        help="jobs simulating longer end TIMED_OUT (default: no limit)",
    )
    emu.add_argument(
        "--no-scheduled",
        dest="report_scheduled",
        action="store_false",
        help="report finalised jobs PENDING until they run, never SCHEDULED (for clients "
        "that know only the v0.6.1 statuses)",
    )
    emu.add_argument(
        "--in-process-jobs",
        dest="isolate_jobs",
        action="store_false",
        help="simulate in the server's process instead of a child process (requests then wait "
        "while Aer runs)",
    )
    emu.add_argument(
        "--no-idempotency",
        dest="idempotency",
        action="store_false",
        help="ignore Idempotency-Key headers and do not advertise support "
        "(like a server without it)",
    )
    flt = parser.add_argument_group("fault injection (default: none)")
    flt.add_argument(
        "--fault-seed",
        type=int,
        default=None,
        help="seed of the fault RNG (same seed, same faults)",
    )
    flt.add_argument(
        "--fault-mix",
        type=_rate,
        default=None,
        metavar="RATE",
        help="fraction of requests faulted, spread over 502/503/504 (40%%), 429, reset before "
        "and reset after (20%% each); replaces the four rate options below",
    )
    flt.add_argument(
        "--fault-error-rate",
        type=_rate,
        default=0.0,
        help="fraction of requests answered 502/503/504",
    )
    flt.add_argument(
        "--fault-error-statuses",
        type=_csv,
        default=[str(s) for s in GATEWAY_STATUSES],
        metavar="LIST",
        help="comma-separated statuses drawn for --fault-error-rate (default: 502,503,504)",
    )
    flt.add_argument(
        "--fault-rate-limit-rate", type=_rate, default=0.0, help="fraction of requests answered 429"
    )
    flt.add_argument(
        "--fault-retry-after",
        default="0.05",
        metavar="SECONDS",
        help="Retry-After value sent with 429 (default: %(default)s; HTTP wants integer seconds, "
        "strict clients such as urllib3's Retry need e.g. 1)",
    )
    flt.add_argument(
        "--fault-reset-before-rate",
        type=_rate,
        default=0.0,
        help="fraction of connections reset before the handler acts",
    )
    flt.add_argument(
        "--fault-reset-after-rate",
        type=_rate,
        default=0.0,
        help="fraction of connections reset after the handler acted (the response is lost)",
    )
    flt.add_argument(
        "--fault-latency",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help="latency added to requests",
    )
    flt.add_argument(
        "--fault-latency-rate",
        type=_rate,
        default=1.0,
        help="fraction of requests delayed (default: 1)",
    )
    flt.add_argument(
        "--fault-queue-delay",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help="extra seconds before each job runs",
    )
    flt.add_argument(
        "--fault-endpoints",
        type=_csv,
        default=None,
        metavar="LIST",
        help="restrict request faults to these endpoints",
    )
    flt.add_argument(
        "--fault-methods",
        type=_csv,
        default=None,
        metavar="LIST",
        help="restrict request faults to these HTTP methods",
    )


def build_server(args: argparse.Namespace) -> tuple[Any, bool]:
    """The configured (not started) server and whether its token was generated."""
    from .server import EmulatorServer

    tokens = args.tokens
    if not tokens and os.environ.get("QORO_API_KEY", "").strip():
        tokens = [os.environ["QORO_API_KEY"].strip()]
    generated = not tokens
    config = EmulatorConfig(
        min_job_seconds=args.min_job_seconds,
        seed=args.seed,
        max_shots=args.max_shots,
        max_body_bytes=args.max_body_bytes,
        idempotency=args.idempotency,
        max_job_memory_bytes=args.max_job_memory_mb * 2**20,
        max_open_jobs_per_token=args.max_open_jobs,
        max_jobs=args.max_jobs,
        job_retention_seconds=args.job_retention,
        isolate_jobs=args.isolate_jobs,
        credits=args.credits,
        max_job_seconds=args.max_job_seconds,
        report_scheduled=args.report_scheduled,
        engine=args.engine,
    )
    rates = {
        "error_rate": args.fault_error_rate,
        "rate_limit_rate": args.fault_rate_limit_rate,
        "reset_before_rate": args.fault_reset_before_rate,
        "reset_after_rate": args.fault_reset_after_rate,
    }
    if args.fault_mix is not None:
        if any(rates.values()):
            raise ValueError(
                "--fault-mix replaces the individual fault rates; do not combine them."
            )
        rates = {name: args.fault_mix * share for name, share in MIX_SHARES.items()}
    faults = FaultConfig(
        seed=args.fault_seed,
        error_statuses=tuple(int(s) for s in args.fault_error_statuses),
        retry_after=args.fault_retry_after,
        **rates,
        latency_seconds=args.fault_latency,
        latency_rate=args.fault_latency_rate,
        queue_delay_seconds=args.fault_queue_delay,
        endpoints=frozenset(args.fault_endpoints) if args.fault_endpoints else None,
        methods=frozenset(args.fault_methods) if args.fault_methods else None,
    )
    server = EmulatorServer(
        tokens=tokens or None,
        host=args.host,
        port=args.port,
        config=config,
        faults=faults,
        allow_remote=args.allow_remote,
    )
    return server, generated


def run(args: argparse.Namespace) -> int:
    """Start the emulator, print how to reach it, serve until Ctrl-C or SIGTERM."""
    try:
        server, generated = build_server(args)
    except ValueError as exc:
        print(f"qiskit-divi emulator: error: {exc}", file=sys.stderr)
        return 2
    # Our loggers at the requested level; everything else (qiskit's pass timings...) at WARNING.
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("qiskit_divi").setLevel(args.log_level)
    try:
        server.start()
    except OSError as exc:
        print(
            f"qiskit-divi emulator: error: cannot serve on {args.host}:{args.port}: {exc}",
            file=sys.stderr,
        )
        return 2
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"Qoro API emulator listening on {server.base_url}")
    print(f"export QORO_API_URL={server.base_url}")
    if generated:
        print(f"export QORO_API_KEY={server.tokens[0]}")
    print("Press Ctrl-C to stop.", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qiskit_divi.emulator")
    add_arguments(parser)
    return run(parser.parse_args(argv))
