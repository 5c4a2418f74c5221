"""Structured relief after diagnostic GON and cervical medial branch blocks (revision-2 C16)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from service.fhir.record import ObservationFacts
from service.fhir.record import PatientRecord
from service.fhir.record import ProcedureFacts
from service.pathway.facts.observations import _finite
from service.pathway.facts.observations import _usable
from service.pathway.facts.status import is_completed
from service.pathway.facts.steps import _site_text
from service.pathway.facts.steps import has_cervical_site
from service.pathway.facts.steps import is_gon_block
from service.pathway.terminology import ValueSetId
from service.pathway.terminology import value_set
from service.pathway.thresholds import PathwayThresholds

#: UCUM percent, as ``Quantity.unit`` (or ``code`` when no unit is given) carries it.
_PERCENT_UNITS = frozenset({"%", "percent"})


@dataclass(frozen=True, slots=True)
class DiagnosticBlocks:
    """Structured relief after diagnostic blocks (revision-2 C16).

    Relief is the local outcome ``block-relief-percent`` (valueQuantity in %), linked to its block Procedure
    by ``partOf`` or, without ``partOf``, dated the same day. Free text never counts.
    """

    #: GON or cervical medial branch blocks with at least ``block_relief_percent`` relief: they support the
    #: diagnosis (ICHD-3 11.2.1 C4 is one criterion of two; GON block relief is non-specific), never confirm it.
    supporting: tuple[ProcedureFacts, ...]
    #: Cervical medial branch blocks with at least ``controlled_block_relief_percent`` relief.
    controlled: tuple[ProcedureFacts, ...]

    @property
    def supports(self) -> bool:
        return bool(self.supporting)

    @property
    def confirms(self) -> bool:
        """Controlled blocks (Bogduk & Govind 2009): two, on different dates, each with at least
        ``controlled_block_relief_percent`` relief."""
        return len({block.performed for block in self.controlled if block.performed is not None}) >= 2


NO_BLOCKS = DiagnosticBlocks((), ())


def _relief_percent(observation: ObservationFacts) -> float | None:
    """The relief of a block-relief Observation, when it is a percentage between 0 and 100."""
    value = observation.value_quantity
    unit = (observation.value_unit or "").strip().lower()
    if value is None or not _finite(value) or unit not in _PERCENT_UNITS or not 0 <= value <= 100:
        return None
    return value


def _relief_of(observation: ObservationFacts, block: ProcedureFacts) -> bool:
    """Whether ``observation`` reports on ``block``: by ``partOf``, else by being dated the same day."""
    if observation.part_of:
        return block.ref in observation.part_of
    return block.performed is not None and observation.effective == block.performed


def diagnostic_blocks(record: PatientRecord, today: date, thresholds: PathwayThresholds) -> DiagnosticBlocks:
    """Completed GON and cervical medial branch blocks with structured relief (revision-2 C16).

    Any date up to today counts: evidence for the diagnosis does not expire like an escalation step does.
    """
    relief_vs = value_set(ValueSetId.BLOCK_RELIEF_OBSERVATION)
    medial_branch_vs = value_set(ValueSetId.CERVICAL_MEDIAL_BRANCH_BLOCK)
    reports = [
        (observation, percent)
        for observation in record.observations
        if _usable(observation, today) and relief_vs.contains_any(observation.codings)
        for percent in [_relief_percent(observation)]
        if percent is not None
    ]
    if not reports:
        return NO_BLOCKS
    supporting: list[ProcedureFacts] = []
    controlled: list[ProcedureFacts] = []
    for block in record.procedures:
        if not is_completed(block) or (block.performed is not None and block.performed > today):
            continue
        medial_branch = medial_branch_vs.contains_any(block.codings) and has_cervical_site(block)
        if not medial_branch and not is_gon_block(block.codings, _site_text(block)):
            continue
        best = max((percent for observation, percent in reports if _relief_of(observation, block)), default=None)
        if best is None or best < thresholds.block_relief_percent:
            continue
        supporting.append(block)
        if medial_branch and best >= thresholds.controlled_block_relief_percent:
            controlled.append(block)
    return DiagnosticBlocks(tuple(supporting), tuple(controlled))
