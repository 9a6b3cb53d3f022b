"""The divi ``CircuitRunner`` API (divi.backends v0.6.1), on top of qiskit_divi.

A program written against ``divi.backends`` runs unchanged with its imports
pointing here. ``JobStatus``, ``JobType``, ``QPU`` and ``QPUSystem`` are the wire
layer's own classes (:mod:`qiskit_divi.api.models`).

divi 0.15.1's job errors are the wire layer's too (:mod:`qiskit_divi.api.job_errors`),
under divi's names: ``QoroJobError`` here is ``QoroJobEndedError`` (a job that ended
without results; a subclass of :class:`qiskit_divi.QoroJobError`), ``JobFailedError`` is
``QoroJobFailedError``, ``JobCancelledError`` is ``QoroJobCancelledError``,
``InsufficientCreditsError`` is ``QoroInsufficientCreditsError`` and ``JobTimedOutError``
is ``QoroJobTimedOutError``; each carries ``job_id`` and ``status``.

``MaestroSimulator`` runs circuits on Maestro (the ``maestro`` extra, imported only when
one is built); ``QiskitSimulator`` is divi 0.10+'s name for ``ParallelSimulator`` (the
same class).
"""

from ..api.job_errors import QoroInsufficientCreditsError as InsufficientCreditsError
from ..api.job_errors import QoroJobCancelledError as JobCancelledError
from ..api.job_errors import QoroJobEndedError as QoroJobError
from ..api.job_errors import QoroJobFailedError as JobFailedError
from ..api.job_errors import QoroJobTimedOutError as JobTimedOutError
from ..api.models import JobStatus, JobType
from ._backend_properties_conversion import create_backend_from_properties
from ._circuit_runner import CircuitRunner, ExecutionResult
from ._job_config import JobConfig
from ._qoro_service import MaxRetriesReachedError, QoroService, QoroServiceJobError
from ._qpu_system import (
    QPU,
    QPUSystem,
    SimulatorCluster,
    get_available_qpu_systems,
    get_available_simulator_clusters,
    get_qpu_system,
    get_simulator_cluster,
    parse_qpu_systems,
    parse_simulator_clusters,
    update_qpu_systems_cache,
    update_simulator_clusters_cache,
)
from ._results_processing import convert_counts_to_probs, reverse_dict_endianness
from .maestro_simulator import MaestroSimulator
from .parallel_simulator import ParallelSimulator, ParallelSimulatorExecutorError

QiskitSimulator = ParallelSimulator
"""divi 0.10+'s name for :class:`ParallelSimulator`: an alias, so both names are one class."""

__all__ = [
    "QPU",
    "CircuitRunner",
    "ExecutionResult",
    "InsufficientCreditsError",
    "JobCancelledError",
    "JobConfig",
    "JobFailedError",
    "JobStatus",
    "JobTimedOutError",
    "JobType",
    "MaestroSimulator",
    "MaxRetriesReachedError",
    "ParallelSimulator",
    "ParallelSimulatorExecutorError",
    "QPUSystem",
    "QoroJobError",
    "QoroService",
    "QiskitSimulator",
    "QoroServiceJobError",
    "SimulatorCluster",
    "convert_counts_to_probs",
    "create_backend_from_properties",
    "get_available_qpu_systems",
    "get_available_simulator_clusters",
    "get_qpu_system",
    "get_simulator_cluster",
    "parse_qpu_systems",
    "parse_simulator_clusters",
    "reverse_dict_endianness",
    "update_qpu_systems_cache",
    "update_simulator_clusters_cache",
]
