"""The body region a PT session, visit or referral is documented for (revision-2 C2)."""

from __future__ import annotations

import re
from collections.abc import Callable
from collections.abc import Iterable
from datetime import date
from enum import StrEnum

from service.fhir.coding import Coding
from service.fhir.record import EncounterFacts
from service.fhir.record import PatientRecord
from service.fhir.record import ProcedureFacts
from service.fhir.record import ServiceRequestFacts
from service.pathway.facts.status import _status
from service.pathway.facts.status import is_counted
from service.pathway.facts.wording import _CLINICAL_SYSTEMS
from service.pathway.terminology import ValueSetId
from service.pathway.terminology import any_of
from service.pathway.terminology import has_coding_in
from service.pathway.terminology import value_set


class PtRegion(StrEnum):
    """The body region a PT session is documented for (revision-2 C2)."""

    HEAD_NECK = "head-neck"
    OTHER = "other"
    UNDOCUMENTED = "undocumented"


#: revision-2 C2: words that document the head / neck region of a PT session, its reason or its referral.
_HEAD_NECK_TEXT = re.compile(
    r"\b(?:head|neck|cervical|cervicogenic|cervicalgia|cervicothoracic|craniocervical|c-spine|occiput|"
    r"(?:sub)?occipital|headaches?|whiplash)\b",
    re.IGNORECASE,
)


#: revision-2 C2: words that document another region ("anything that is not head/neck/cervical"). The bone
#: necks and heads (neck of femur, humeral head) come first so that they are not read as the neck or head.
_OTHER_REGION_TEXT = re.compile(
    r"\b(?:(?:neck|head)\s+of\s+(?:the\s+)?(?:femur|humerus|radius|fibula)|(?:femoral|humeral|radial|fibular)\s+"
    r"(?:neck|head)|knees?|hips?|shoulders?|lumbar|lumbosacral|sacral|sacroiliac|(?:(?:low|lower|mid|upper)\s+)?back|"
    r"thoracic|ankles?|feet|foot|wrists?|hands?|elbows?|femur|femoral|pelvi[cs]|legs?|arms?|forearms?|thighs?|"
    r"calf|calves|rotator\s+cuff|achilles|plantar|fingers?|toes?)\b",
    re.IGNORECASE,
)


#: Condition value sets whose members are a head / neck (CGH, headache, cervical) reason for PT (revision-2 C2).
_HEAD_NECK_CONDITIONS = (
    ValueSetId.CGH_DX_SPECIFIC,
    ValueSetId.CGH_DX_LEGACY,
    ValueSetId.HEADACHE_SYMPTOMS,
    ValueSetId.CERVICAL_DISORDERS,
)


#: ServiceRequest statuses of a PT referral that was placed (the basis of sessions, revision-2 C2).
_PLACED_REQUEST = frozenset({"active", "completed", "on-hold"})


def _combined(regions: Iterable[PtRegion]) -> PtRegion:
    """Head/neck when any source names it, else another region when any names one, else undocumented."""
    found = set(regions)
    if PtRegion.HEAD_NECK in found:
        return PtRegion.HEAD_NECK
    return PtRegion.OTHER if PtRegion.OTHER in found else PtRegion.UNDOCUMENTED


def text_region(texts: Iterable[str | None]) -> PtRegion:
    """The region named in words: head/neck when any text names it (once bone necks and heads are set aside)."""
    named_other = False
    for text in texts:
        if not text:
            continue
        rest, others = _OTHER_REGION_TEXT.subn(" ", text)
        if _HEAD_NECK_TEXT.search(rest):
            return PtRegion.HEAD_NECK
        named_other = named_other or others > 0
    return PtRegion.OTHER if named_other else PtRegion.UNDOCUMENTED


def _coded_region(codings: tuple[Coding, ...], texts: Iterable[str | None]) -> PtRegion:
    """A reason's region: coded as a CGH / headache / cervical condition, else what its words name.

    A reason coded in ICD-10-CM or SNOMED CT is read by its codes and their displays only: free text added to
    a Condition coded for the lower back must not turn its PT course into a neck course that unlocks
    escalation (issue 9: escalation needs coded evidence, never free text).
    """
    if any_of(*_HEAD_NECK_CONDITIONS).contains_any(codings):
        return PtRegion.HEAD_NECK
    displays = [coding.display for coding in codings]
    if has_coding_in(codings, _CLINICAL_SYSTEMS):
        return text_region(displays)
    return text_region([*texts, *displays])


def is_pt_referral(request: ServiceRequestFacts) -> bool:
    return value_set(ValueSetId.PT_EXERCISE).contains_any(request.codings)


def _request_date(request: ServiceRequestFacts) -> date | None:
    dated = [day for day in (request.authored, request.occurrence) if day is not None]
    return max(dated) if dated else None


class _Regions:
    """Where a PT session's region is documented (revision-2 C2), first level that documents one wins:
    the session itself (bodySite, reasonCode, reasonReference); its Encounter's reasons and diagnoses; the PT
    referral it is based on; the patient's only PT referral in the look-back."""

    def __init__(self, record: PatientRecord, start: date, today: date) -> None:
        self._conditions = {c.ref: c for c in record.conditions if is_counted(c)}
        self._encounters = {e.ref: e for e in record.encounters}
        self._requests = {r.ref: r for r in record.service_requests}
        placed = [
            r
            for r in record.service_requests
            if _status(r.status) in _PLACED_REQUEST
            and is_pt_referral(r)
            and start <= (_request_date(r) or start) <= today
        ]
        self._only_referral = placed[0] if len(placed) == 1 else None

    def _reasons(self, codings: tuple[Coding, ...], texts: Iterable[str], refs: Iterable[str]) -> PtRegion:
        regions = [_coded_region(codings, texts)]
        for ref in refs:
            condition = self._conditions.get(ref)
            if condition is not None:
                regions.append(_coded_region(condition.codings, [condition.text]))
        return _combined(regions)

    def referral(self, request: ServiceRequestFacts) -> PtRegion:
        """A referral's region: reasonCode, reasonReference, bodySite, code.text."""
        return _combined(
            [
                self._reasons(request.reason_codings, request.reason_texts, request.reason_refs),
                text_region([*request.body_site_texts, *(c.display for c in request.body_site), request.text]),
            ]
        )

    def _based_on(self, refs: Iterable[str]) -> PtRegion:
        return _combined(self.referral(r) for ref in refs if (r := self._requests.get(ref)) is not None)

    def _first_documented(self, *levels: Callable[[], PtRegion]) -> PtRegion:
        for level in levels:
            region = level()
            if region is not PtRegion.UNDOCUMENTED:
                return region
        only = self._only_referral
        return self.referral(only) if only is not None else PtRegion.UNDOCUMENTED

    def procedure(self, procedure: ProcedureFacts) -> PtRegion:
        visit = self._encounters.get(procedure.encounter) if procedure.encounter else None
        return self._first_documented(
            lambda: _combined(
                [
                    text_region([*procedure.body_site_texts, *(c.display for c in procedure.body_site)]),
                    self._reasons(procedure.reason_codings, procedure.reason_texts, procedure.reason_refs),
                ]
            ),
            lambda: self._visit(visit),
            lambda: self._based_on((*procedure.based_on, *(visit.based_on if visit else ()))),
        )

    def _visit(self, visit: EncounterFacts | None) -> PtRegion:
        if visit is None:
            return PtRegion.UNDOCUMENTED
        return self._reasons(visit.reason_codings, visit.reason_texts, visit.reason_refs)

    def encounter(self, encounter: EncounterFacts) -> PtRegion:
        return self._first_documented(
            lambda: self._visit(encounter),
            lambda: self._based_on(encounter.based_on),
        )
