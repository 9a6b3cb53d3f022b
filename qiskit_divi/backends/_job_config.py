"""``JobConfig``: per-service and per-submission settings of a Qoro job (divi v0.6.1, plus
divi 0.15.1's ``simulator_cluster`` target)."""

from __future__ import annotations

from dataclasses import dataclass, fields

from ..api.models import QPUSystem, SimulatorCluster


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
        simulator_cluster: target a simulator cluster instead of a system (divi 0.15.1),
            as a :class:`SimulatorCluster` or its name (resolved by ``QoroService``
            through the cluster cache). Last, so v0.6.1 positional calls keep working.

    Raises:
        ValueError: ``shots`` is not None and ``<= 0``; both ``qpu_system`` and
            ``simulator_cluster`` are set.
        TypeError: ``qpu_system`` is neither None, a str nor a ``QPUSystem``;
            ``simulator_cluster`` is neither None, a str nor a ``SimulatorCluster``;
            ``use_circuit_packing`` is neither None nor a bool.
    """

    shots: int | None = None
    qpu_system: QPUSystem | str | None = None
    use_circuit_packing: bool | None = None
    tag: str = "default"
    force_sampling: bool = False
    simulator_cluster: SimulatorCluster | str | None = None

    def __post_init__(self) -> None:
        """Validate the fields (runs on every construction, including in :meth:`override`)."""
        if self.shots is not None and self.shots <= 0:
            raise ValueError(f"Shots must be a positive integer. Got {self.shots}.")
        if self.qpu_system is not None and not isinstance(self.qpu_system, (str, QPUSystem)):
            raise TypeError(f"Expected a QPUSystem instance or str, got {type(self.qpu_system)}")
        if self.use_circuit_packing is not None and not isinstance(self.use_circuit_packing, bool):
            raise TypeError(f"Expected a bool, got {type(self.use_circuit_packing)}")
        if self.simulator_cluster is not None:
            if not isinstance(self.simulator_cluster, (str, SimulatorCluster)):
                raise TypeError(
                    "Expected a SimulatorCluster instance or str, got "
                    f"{type(self.simulator_cluster)}"
                )
            if self.qpu_system is not None:
                raise ValueError(
                    "Provide either 'simulator_cluster' or 'qpu_system', not both: a job "
                    "targets one system or one simulator cluster."
                )

    def override(self, other: JobConfig) -> JobConfig:
        """A new config: this one's fields, replaced by every field of ``other`` that is not None.

        Neither config is modified and the result is validated again. As in divi
        v0.6.1, ``tag`` and ``force_sampling`` default to non-None values, so an
        override built with the defaults resets them to ``"default"`` and ``False``;
        pass ``tag=None`` to keep this config's tag. A target in ``other`` replaces this
        config's target of either kind (a ``qpu_system`` drops ``simulator_cluster`` and
        the reverse, as in divi 0.15.1).
        """
        merged = {f.name: getattr(self, f.name) for f in fields(self)}
        if other.simulator_cluster is not None:
            merged["qpu_system"] = None
        if other.qpu_system is not None:
            merged["simulator_cluster"] = None
        for f in fields(other):
            value = getattr(other, f.name)
            if value is not None:
                merged[f.name] = value
        return JobConfig(**merged)
