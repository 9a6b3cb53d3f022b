"""Running an example script the way a newcomer does: a fresh interpreter, an empty
``PATH``, a private home and job journal.

Importable from every test module (``pythonpath = ["tests"]`` in ``pyproject.toml``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_example(name: str, cwd: Path, timeout: float = 120) -> str:
    """The standard output of ``examples/<name>`` run in ``cwd``; fails with its stderr."""
    env = {"PATH": "", "HOME": str(cwd), "QISKIT_DIVI_JOURNAL": str(cwd / "journal.sqlite")}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout
