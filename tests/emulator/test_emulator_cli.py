"""``qiskit-divi emulator`` and ``python -m qiskit_divi.emulator``."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal

import pytest
import requests

from qiskit_divi import cli
from qiskit_divi.emulator.cli import add_arguments, build_server


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["emulator", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for flag in (
        "--host",
        "--port",
        "--token",
        "--allow-remote",
        "--seed",
        "--min-job-seconds",
        "--fault-error-rate",
        "--fault-rate-limit-rate",
        "--fault-reset-before-rate",
        "--fault-reset-after-rate",
        "--fault-latency",
        "--fault-queue-delay",
        "--fault-endpoints",
    ):
        assert flag in text
    assert "qoro_maestro" in text


def test_dispatcher_without_subcommand_prints_help(capsys):
    assert cli.main([]) == 2
    assert "emulator" in capsys.readouterr().out


def test_remote_host_needs_allow_remote(capsys):
    assert cli.main(["emulator", "--host", "0.0.0.0", "--port", "0"]) == 2
    assert "--allow-remote" in capsys.readouterr().err


def _start(args, env):
    proc = subprocess.Popen(
        [
            sys.executable,
            *args,
            "--port",
            "0",
            "--min-job-seconds",
            "0.01",
            "--log-level",
            "WARNING",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.startswith("Press Ctrl-C"):
            return proc, lines
    proc.kill()
    raise AssertionError(f"emulator did not start: {lines} {proc.stderr.read()}")


def _stop(proc):
    proc.send_signal(signal.SIGINT)
    try:
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
        proc.stderr.close()


def _exports(lines):
    return dict(
        line[len("export ") :].split("=", 1) for line in lines if line.startswith("export ")
    )


def test_module_entry_point_generates_and_prints_a_token():
    env = {k: v for k, v in os.environ.items() if k != "QORO_API_KEY"}
    proc, lines = _start(["-m", "qiskit_divi.emulator"], env)
    try:
        exports = _exports(lines)
        assert set(exports) == {"QORO_API_URL", "QORO_API_KEY"}
        url, token = exports["QORO_API_URL"], exports["QORO_API_KEY"]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/api")
        assert (
            requests.get(
                url + "/", headers={"Authorization": f"Bearer {token}"}, timeout=10
            ).status_code
            == 200
        )
        assert (
            requests.get(
                url + "/", headers={"Authorization": "Bearer other"}, timeout=10
            ).status_code
            == 401
        )
    finally:
        _stop(proc)


def test_console_command_uses_the_given_token():
    env = {**os.environ, "QORO_API_KEY": "from-env-is-ignored-when-token-given"}
    proc, lines = _start(
        ["-m", "qiskit_divi.cli", "emulator", "--token", "cli-token", "--token", "second"], env
    )
    try:
        exports = _exports(lines)
        assert set(exports) == {"QORO_API_URL"}  # a given token is not echoed
        assert all("cli-token" not in line for line in lines)
        for token in ("cli-token", "second"):
            resp = requests.get(
                exports["QORO_API_URL"] + "/",
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )
            assert resp.status_code == 200
    finally:
        _stop(proc)


def test_help_lists_the_account_and_deadline_options(capsys):
    with pytest.raises(SystemExit):
        cli.main(["emulator", "--help"])
    text = capsys.readouterr().out
    for flag in ("--credits", "--max-job-seconds", "--no-scheduled"):
        assert flag in text
    assert "0.01 per circuit" in text  # the charging rule


def _server_config(argv):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    server, _ = build_server(parser.parse_args(["--port", "0", *argv]))
    return server.config


def test_account_and_deadline_options_reach_the_config():
    config = _server_config(["--credits", "12.5", "--max-job-seconds", "0.5", "--no-scheduled"])
    assert (config.credits, config.max_job_seconds, config.report_scheduled) == (
        Decimal("12.50"),
        0.5,
        False,
    )
    default = _server_config([])
    assert (default.credits, default.max_job_seconds, default.report_scheduled) == (
        None,
        None,
        True,
    )


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--credits", "-5"], "--credits"),
        (["--credits", "nan"], "--credits"),
        (["--credits", "plenty"], "--credits"),
        (["--max-job-seconds", "0"], "--max-job-seconds"),
        (["--max-job-seconds", "soon"], "--max-job-seconds"),
    ],
)
def test_bad_account_and_deadline_options_are_refused(capsys, argv, needle):
    with pytest.raises(SystemExit) as exc:
        cli.main(["emulator", "--port", "0", *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert needle in err and argv[1] in err
