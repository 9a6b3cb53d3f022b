"""A local emulator of the Qoro REST API (``qoro-api.md``), backed by qiskit-aer.

>>> from qiskit_divi.emulator import EmulatorServer, EmulatorConfig
>>> with EmulatorServer(tokens=["tok"], config=EmulatorConfig(min_job_seconds=0.05)) as server:
...     url = server.base_url          # http://127.0.0.1:<port>/api

Command line: ``qiskit-divi emulator --help`` or ``python -m qiskit_divi.emulator --help``.
"""

from .config import DEFAULT_MAX_BODY_BYTES, EmulatorConfig
from .faults import ENDPOINTS, FAULT_KINDS, FaultConfig
from .server import EmulatorServer
from .state import JobSnapshot
from .systems import DEFAULT_SYSTEMS, SystemSpec

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_SYSTEMS",
    "ENDPOINTS",
    "FAULT_KINDS",
    "EmulatorConfig",
    "EmulatorServer",
    "FaultConfig",
    "JobSnapshot",
    "SystemSpec",
]
