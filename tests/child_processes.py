"""The emulator's job processes among this test process's children (Linux ``/proc``)."""

from __future__ import annotations

import os


def emulator_job_processes() -> set[int]:
    """Ids of this process's children that run emulator jobs."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                command = cmdline.read()
        except (OSError, IndexError, ValueError):
            continue
        if parent == os.getpid() and b"qiskit_divi.emulator.worker" in command:
            found.add(int(entry))
    return found
