"""The Qoro wire layer: the only code that speaks HTTP. It imports no Qiskit
(beyond the ``QiskitError`` base class of the error tree)."""

from .circuits import MAX_PAYLOAD_BYTES, chunk_packed_circuits, pack_circuit, unpack_circuit
from .client import TIMEOUTS, QoroClient
from .config import PRODUCTION_URL, Secret, resolve_base_url, resolve_token
from .errors import (
    QoroAmbiguousRequestError,
    QoroApiError,
    QoroAuthenticationError,
    QoroBadRequestError,
    QoroConfigurationError,
    QoroConflictError,
    QoroConnectionError,
    QoroError,
    QoroInputError,
    QoroJobError,
    QoroNotFoundError,
    QoroProtocolError,
    QoroRateLimitError,
    QoroResultsNotReadyError,
    QoroServerError,
)
from .histogram import decode_envelope, decode_histogram, encode_envelope, encode_histogram
from .models import (
    QPU,
    AddCircuitsRequest,
    CancelReply,
    InitJobRequest,
    JobStatus,
    JobStatusReply,
    JobType,
    QPUSystem,
    ResultRow,
    ResultsPage,
    parse_qpu_systems,
)
from .observables import join_ham_ops, qiskit_label_to_wire, split_ham_ops, wire_to_qiskit_label
from .retry import RetryPolicy
from .submission import (
    MAX_SHOTS,
    JobSpec,
    decode_result_payload,
    discard_job,
    ensure_completed,
    fetch_results,
    submit_job,
    wait_for_final_status,
)
