"""Qiskit primitives on Qoro backends: :class:`SamplerV2` and :class:`EstimatorV2`.

Switch an existing Qiskit primitives program to Qoro by changing the import and
the ``mode``::

    from qiskit_divi import EstimatorV2, QoroProvider, SamplerV2

    backend = QoroProvider().get_backend("qoro_maestro")
    sampler = SamplerV2(mode=backend)
    estimator = EstimatorV2(mode=backend, options={"default_precision": 0.01})

Calls return a :class:`QoroPrimitiveJob`; ``QoroProvider.retrieve_job(job_id)``
(or ``SamplerV2.retrieve`` / ``EstimatorV2.retrieve``) rebuilds it, result
included, in any process that shares the job journal. Job grouping, payloads and
options are documented in :mod:`.sampler`, :mod:`.estimator`, :mod:`.job` and
:mod:`.options`; circuit cutting in :mod:`.cutting` (``EstimatorV2.plan_cuts`` returns
:class:`CutReport` objects); journal payloads in :mod:`.payloads`.
"""

from __future__ import annotations

from .cutting import CutReport
from .estimator import EstimatorV2
from .job import QoroPrimitiveJob
from .options import EstimatorOptions, SamplerOptions
from .sampler import SamplerV2

__all__ = [
    "CutReport",
    "EstimatorOptions",
    "EstimatorV2",
    "QoroPrimitiveJob",
    "SamplerOptions",
    "SamplerV2",
]
