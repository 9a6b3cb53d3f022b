"""The divi ``CircuitRunner`` API (divi.backends v0.6.1), on top of qiskit_divi.

A program written against ``divi.backends`` runs unchanged with its imports
pointing here. ``JobStatus``, ``JobType``, ``QPU`` and ``QPUSystem`` are the wire
layer's own classes (:mod:`qiskit_divi.api.models`).
"""

from ..api.models import JobStatus, JobType
from ._backend_properties_conversion import create_backend_from_properties
from ._circuit_runner import CircuitRunner, ExecutionResult
from ._job_config import JobConfig
from ._qoro_service import MaxRetriesReachedError, QoroService, QoroServiceJobError
from ._qpu_system import (
    QPU,
    QPUSystem,
    get_available_qpu_systems,
    get_qpu_system,
    parse_qpu_systems,
    update_qpu_systems_cache,
)
from ._results_processing import convert_counts_to_probs, reverse_dict_endianness
from .parallel_simulator import ParallelSimulator, ParallelSimulatorExecutorError

__all__ = [
    "QPU",
    "CircuitRunner",
    "ExecutionResult",
    "JobConfig",
    "JobStatus",
    "JobType",
    "MaxRetriesReachedError",
    "ParallelSimulator",
    "ParallelSimulatorExecutorError",
    "QPUSystem",
    "QoroService",
    "QoroServiceJobError",
    "convert_counts_to_probs",
    "create_backend_from_properties",
    "get_available_qpu_systems",
    "get_qpu_system",
    "parse_qpu_systems",
    "reverse_dict_endianness",
    "update_qpu_systems_cache",
]
