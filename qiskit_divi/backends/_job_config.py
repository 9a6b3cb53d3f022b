"""``JobConfig``: per-service and per-submission settings of a Qoro job (divi v0.6.1)."""

from __future__ import annotations

from dataclasses import dataclass, fields

from ..api.models import QPUSystem


@dataclass(frozen=True)
class JobConfig:
    """Configuration of a Qoro Service job.

    Attributes:
        shots: shots per circuit (positive), or None to inherit.
        qpu_system: the target system, as a :class:`QPUSystem` or its name. A name
            is stored as given; ``QoroService`` resolves it through the systems cache.
        use_circuit_packing: whether the service may pack circuits, or None to inherit.
        tag: a label stored with the job.
        force_sampling: sample even on a system that supports expectation values.

    Raises:
        ValueError: ``shots`` is not None and ``<= 0``.
        TypeError: ``qpu_system`` is neither None, a str nor a ``QPUSystem``;
            ``use_circuit_packing`` is neither None nor a bool.
    """

    shots: int | None = None
    qpu_system: QPUSystem | str | None = None
    use_circuit_packing: bool | None = None
    tag: str = "default"
    force_sampling: bool = False

    def __post_init__(self) -> None:
        """Validate the fields (runs on every construction, including in :meth:`override`)."""
        if self.shots is not None and self.shots <= 0:
            raise ValueError(f"Shots must be a positive integer. Got {self.shots}.")
        if self.qpu_system is not None and not isinstance(self.qpu_system, (str, QPUSystem)):
            raise TypeError(f"Expected a QPUSystem instance or str, got {type(self.qpu_system)}")
        if self.use_circuit_packing is not None and not isinstance(self.use_circuit_packing, bool):
            raise TypeError(f"Expected a bool, got {type(self.use_circuit_packing)}")

    def override(self, other: JobConfig) -> JobConfig:
        """A new config: this one's fields, replaced by every field of ``other`` that is not None.

        Neither config is modified and the result is validated again. As in divi
        v0.6.1, ``tag`` and ``force_sampling`` default to non-None values, so an
        override built with the defaults resets them to ``"default"`` and ``False``;
        pass ``tag=None`` to keep this config's tag.
        """
        merged = {f.name: getattr(self, f.name) for f in fields(self)}
        for f in fields(other):
            value = getattr(other, f.name)
            if value is not None:
                merged[f.name] = value
        return JobConfig(**merged)
