"""A local emulator of the Qoro REST API (``qoro-api.md``), backed by qiskit-aer.

.. code-block:: python

    from qiskit_divi.emulator import EmulatorConfig, EmulatorServer

    with EmulatorServer(tokens=["tok"], config=EmulatorConfig(min_job_seconds=0.05)) as server:
        url = server.base_url  # http://127.0.0.1:<port>/api

Command line: ``qiskit-divi emulator --help`` or ``python -m qiskit_divi.emulator --help``.

Systems (``GET qpusystem/``): ``qoro_maestro`` (24 qubits, ``simulator``, noiseless,
the only one running EXPECTATION jobs), ``fake_nairobi`` (7 qubits,
``superconducting``, FakeNairobiV2 noise and coupling map), ``fake_ion`` (11
qubits, ``trapped_ion``, all-to-all, depolarising + readout noise). A system with a
coupling map lists it as a system-level ``coupling_map`` key (the reference client
ignores extra system keys but refuses extra QPU keys), so clients build Targets with
the connectivity the emulator simulates.

Simulator clusters (``GET simulatorcluster/``): ``qoro_maestro`` (``PUBLIC``, ``FREE``),
simulating exactly like the system of that name; ``job/init/`` takes exactly one of
``qpu_system_name`` and ``simulator_cluster``. divi 0.15.1's ``maestro_config`` and
``device_config``, and ``execution_configuration`` (5.8) are type-checked and, except
``api_meta.max_execution_time``, ignored (logged): the emulator always simulates exactly.

Statuses: finalised jobs go PENDING -> SCHEDULED -> RUNNING (phases of a third of
``min_job_seconds``; ``report_scheduled=False`` / ``--no-scheduled`` skips SCHEDULED) ->
COMPLETED (``status/`` then carries ``run_time``, seconds simulated), FAILED, or
TIMED_OUT past ``max_job_seconds`` / ``--max-job-seconds`` or the job's
``max_execution_time`` (its child process is killed). PAUSED is never reported.

Credits (``credits/``, ``credits/transactions/``; :mod:`.accounts`): ``credits=AMOUNT`` /
``--credits AMOUNT`` gives each token that balance (a PURCHASE transaction). A completed
sampling job costs 0.01 per circuit plus 0.01 per 1000 shots, an EXPECTATION job 0.01 per
circuit per term, rounded up to the cent (a USAGE transaction with its ``job_id``); a job
whose cost exceeds the balance left ends INSUFFICIENT_CREDITS when finalised, without
running. Unlimited (the default): ``balance`` reads ``"0.00"``, ``total_used`` and USAGE
rows still record every completed job.

Where ``qoro-api.md`` leaves behaviour open, the emulator answers:

* unknown job id: ``404 {"detail": "Job not found."}`` on every job endpoint;
  another token's job: ``403 {"detail": "You do not have permission to modify this job."}``;
* ``resultsV2`` on a job that is not COMPLETED (FAILED, CANCELLED, INSUFFICIENT_CREDITS and
  TIMED_OUT included): ``400 {"error": ...}``; ``cancel/`` of any non-final job ``200``, of
  a final one ``409``;
* ``credits/transactions/``: newest first; ``page`` from 1, ``page_size`` default 20,
  capped at 100; a page that is not a positive integer or past the last: ``400 {"error"}``;
* ``add_circuits`` on a finalised or terminal job: ``409 {"error": ...}``; finalising a
  job without circuits, circuits without classical bits in sampling jobs, shots or
  observables differing between chunks, observable groups: ``400``; templates bind as
  :mod:`.templates` documents; ``shot_groups`` must tile each request's circuits, are
  refused with observables or templates, and a job uses ``shots`` or ``shot_groups`` in
  every chunk;
* ``finalized`` may be ``"true"``/``"false"`` (as sent by the reference) or a JSON boolean;
* bodies above ``max_body_bytes`` (2 MiB by default): ``413 {"detail": ...}``;
  non-JSON bodies ``415``, malformed JSON or duplicate keys ``400``;
* ``resultsV2``: ``limit`` defaults to 100 and is capped at 1000, invalid values fall
  back to the defaults (DRF semantics); ``next``/``previous`` are absolute URLs built
  from the request's Host header; rows come in submission order;
* sampling keys: Qiskit order over the full classical width, registers joined without
  spaces; QASM is parsed with ``qiskit.qasm2.loads`` and Qiskit's legacy custom
  instructions (``p``, ``sx``, ``rzz``... as ``qasm2.dumps`` writes them), once per
  circuit *shape*: texts differing only in their angles share one parse and run as
  Aer ``parameter_binds`` (:mod:`.circuits`); native circuits on ``qoro_maestro`` are
  not transpiled (the noisy systems always transpile);
* ``job/create_failed/`` answers ``201 {"job_id"}``; ``job/init/`` answers ``201``;
* ``Idempotency-Key`` (IETF draft, Stripe-style) is honoured on POST and DELETE: a
  repeated key from the same token gets the stored first response back with
  ``Idempotent-Replayed: true`` and nothing is done twice; the same key with another
  request gets ``422``; every API response says ``Idempotency-Key-Support: 1``
  (``EmulatorConfig(idempotency=False)`` / ``--no-idempotency`` turns this off).
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
