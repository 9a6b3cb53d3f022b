"""divi's ``ParallelSimulator``, by job:

* :mod:`.runner`: the ``ParallelSimulator`` class (the divi ``CircuitRunner`` API);
* :mod:`.transpile_skip`: which circuits may run untranspiled, and batch preparation;
* :mod:`.caches`: simulators, prepared circuits and parsed shapes kept per process;
* :mod:`.executor`: running a batch in one Aer call or as sub-batches on an executor;
* :mod:`.estimates`: run-time estimates on a backend;
* :mod:`.fake_backends`: the fake IBM backends ``qiskit_backend="auto"`` picks from;
* :mod:`.internals`: everything relied on in Qiskit and Aer beyond their documented API.

``FAKE_BACKENDS`` (divi's ``{max_qubits: [fake backend classes]}``) is served lazily.
"""

from typing import Any

from .executor import ParallelSimulatorExecutorError
from .runner import ParallelSimulator

__all__ = ["ParallelSimulator", "ParallelSimulatorExecutorError"]


def __getattr__(name: str) -> Any:
    """Serve ``FAKE_BACKENDS`` without importing ``qiskit_ibm_runtime`` up front."""
    if name == "FAKE_BACKENDS":
        from .fake_backends import fake_backends

        return fake_backends()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
