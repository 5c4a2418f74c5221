"""The interventional steps done: GON blocks, percutaneous and refractory procedures (revision-2 C17)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from service.fhir.coding import Coding
from service.fhir.record import PatientRecord
from service.fhir.record import ProcedureFacts
from service.pathway.facts.dates import months_before
from service.pathway.facts.status import is_completed
from service.pathway.facts.wording import _CERVICAL
from service.pathway.terminology import ValueSetId
from service.pathway.terminology import value_set
from service.pathway.thresholds import PathwayThresholds

#: A 64450 "other peripheral nerve" block is a GON block when its body site or text says occipital.
_OCCIPITAL = re.compile(r"occipital", re.IGNORECASE)
#: A CPT descriptor's "cervical or thoracic" names no site (revision-2 C17: has_cervical_site).
_CERVICAL_OR_THORACIC = re.compile(r"\bcervical\s*(?:or|/|and|&)\s*thoracic\b", re.IGNORECASE)


def _site_text(procedure: ProcedureFacts) -> str:
    """Where a procedure was done, as its record says it: the procedure's name and its body site.

    Notes and outcome text are left out on purpose: the site and the relief of a block must be documented in
    structured fields, never read from free-text notes (revision-2 C16, issue 9 never-do list).
    """
    parts = [procedure.text or ""]
    parts.extend(coding.display or "" for coding in procedure.body_site)
    return " ".join(parts)


def is_gon_block(codings: Iterable[Coding], text: str) -> bool:
    """64405, or a 64450 peripheral nerve block whose body site or text says occipital (docs/clinical/reference.md
    §2.2)."""
    listed = tuple(codings)
    if value_set(ValueSetId.GON_BLOCK).contains_any(listed):
        return True
    return value_set(ValueSetId.PERIPHERAL_NERVE_BLOCK).contains_any(listed) and bool(_OCCIPITAL.search(text))


def has_cervical_site(procedure: ProcedureFacts) -> bool:
    """The body site or the procedure's own name documents a cervical site (revision-2 C17).

    A CPT descriptor's "cervical or thoracic" names no site, so it is removed before looking.
    """
    return bool(_CERVICAL.search(_CERVICAL_OR_THORACIC.sub(" ", _site_text(procedure))))


@dataclass(frozen=True, slots=True)
class Steps:
    """Completed interventional steps (docs/clinical/reference.md §2.2 ``step2_done``, ``step3_done``; revision-2
    C17)."""

    gon_blocks: tuple[ProcedureFacts, ...]
    percutaneous: tuple[ProcedureFacts, ...]
    refractory: tuple[ProcedureFacts, ...]

    @property
    def step2_done(self) -> bool:
        return bool(self.gon_blocks)

    @property
    def step3_done(self) -> bool:
        return bool(self.percutaneous)

    @property
    def last_gon_block(self) -> ProcedureFacts | None:
        dated = [p for p in self.gon_blocks if p.performed is not None]
        if dated:
            return max(dated, key=lambda p: p.performed or date.min)
        return self.gon_blocks[0] if self.gon_blocks else None


def steps(record: PatientRecord, today: date, thresholds: PathwayThresholds) -> Steps:
    """Completed GON blocks, percutaneous and refractory procedures (incl. toxin) that count as earlier steps.

    revision-2 C17: only those dated within ``step_lookback_months`` (undated or future ones do not count),
    and a code whose descriptor covers "cervical or thoracic" (cervical-site-required) only with a
    documented cervical site: a thoracic epidural is not the percutaneous step of a headache pathway.
    """
    percutaneous_vs = value_set(ValueSetId.PERCUTANEOUS)
    refractory_vs = value_set(ValueSetId.REFRACTORY)
    toxin_vs = value_set(ValueSetId.BOTULINUM_TOXIN)
    site_required_vs = value_set(ValueSetId.CERVICAL_SITE_REQUIRED)
    since = months_before(today, thresholds.step_lookback_months)
    gon: list[ProcedureFacts] = []
    percutaneous: list[ProcedureFacts] = []
    refractory: list[ProcedureFacts] = []
    for procedure in record.procedures:
        when = procedure.performed
        if not is_completed(procedure) or when is None or not since <= when <= today:
            continue
        if site_required_vs.contains_any(procedure.codings) and not has_cervical_site(procedure):
            continue
        if is_gon_block(procedure.codings, _site_text(procedure)):
            gon.append(procedure)
        if percutaneous_vs.contains_any(procedure.codings):
            percutaneous.append(procedure)
        if refractory_vs.contains_any(procedure.codings) or toxin_vs.contains_any(procedure.codings):
            refractory.append(procedure)
    return Steps(tuple(gon), tuple(percutaneous), tuple(refractory))
