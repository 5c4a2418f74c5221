"""Derived facts of the pathway (docs/clinical/reference.md §2.2): pure functions of a record, the moment and today.

Each fact is its own small function so it can be tested at its edges; :func:`derive_facts` computes them all
once per evaluation into one frozen :class:`Facts`, which the rules read. Clinical codes come only from the
value sets (:mod:`service.pathway.terminology`). Nothing here raises on odd data: missing dates, unknown
statuses and empty codings simply make a fact false or unknown.
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import replace
from datetime import date
from datetime import timedelta
from enum import StrEnum
from functools import lru_cache

from service.fhir.coding import CPT
from service.fhir.coding import HCPCS
from service.fhir.coding import ICD10
from service.fhir.coding import ICD10CM
from service.fhir.coding import RXNORM
from service.fhir.coding import SNOMED
from service.fhir.coding import Coding
from service.fhir.record import ConditionFacts
from service.fhir.record import DoseFacts
from service.fhir.record import EncounterFacts
from service.fhir.record import MedicationRequestFacts
from service.fhir.record import ObservationFacts
from service.fhir.record import OrderFacts
from service.fhir.record import PatientRecord
from service.fhir.record import ProcedureFacts
from service.fhir.record import ServiceRequestFacts
from service.pathway.advice import Moment
from service.pathway.terminology import MedicationMatch
from service.pathway.terminology import ValueSet
from service.pathway.terminology import ValueSetId
from service.pathway.terminology import has_coding_in
from service.pathway.terminology import short_name
from service.pathway.terminology import value_set
from service.pathway.thresholds import PathwayThresholds

#: Condition.clinicalStatus codes that count as active (FHIR R4 condition-clinical).
ACTIVE_CLINICAL = frozenset({"active", "recurrence", "relapse"})
#: Condition.verificationStatus codes that are ignored entirely (docs/clinical/reference.md §2.1).
IGNORED_VERIFICATION = frozenset({"refuted", "entered-in-error"})
#: verificationStatus codes that make a specific CGH code "suspected" (None: absent, §2.2 (a)).
SUSPECTED_VERIFICATION = frozenset({"provisional", "differential", "unconfirmed"})
CONFIRMED = "confirmed"
REFUTED = "refuted"
ENTERED_IN_ERROR = "entered-in-error"
COMPLETED = "completed"
#: Observation statuses whose values are not used.
IGNORED_OBSERVATION = frozenset({"entered-in-error", "cancelled", "registered"})
#: ServiceRequest statuses that make a request current (a PT referral in place, a vascular study pending).
CURRENT_REQUEST = frozenset({"active", "draft", "on-hold"})
ACTIVE_MEDICATION = frozenset({"active"})

#: Free-text markers (not codes) for the manipulation gate on PT orders (docs/clinical/reference.md §1.4: 97140 cannot
#: tell
#: thrust from mobilisation; treat as manipulation only when the text documents a cervical thrust).
_THRUST = re.compile(r"\b(?:thrust|hvla|high[- ]velocity)\b", re.IGNORECASE)
_CERVICAL = re.compile(r"\b(?:cervical|neck|c[0-7](?:[-/]c?[0-7])?)\b", re.IGNORECASE)
#: Regions other than the neck named on a manipulation order (revision-2 C19: only a non-cervical region
#: documented drops the arterial and instability contraindications to a warning).
#: Text that records a past problem ("History of stroke", "h/o breast cancer"): a Condition recognised only by
#: name with such text is history, never a current red flag (revision-2 C08: red flags must be able to clear).
_HISTORY_WORDING = re.compile(r"\b(?:history\s+of|hx\s+of|h/o|past\s+history)\b", re.IGNORECASE)
_NON_CERVICAL = re.compile(
    r"\b(?:lumbar|lumbosacral|thoracic|thoracolumbar|sacral|sacrum|sacroiliac|pelvi[cs]|low(?:er)?\s+back|hip|knee|"
    r"ankle|foot|shoulder|elbow|wrist|hand|ribs?|extremity|extremities)\b",
    re.IGNORECASE,
)
#: A 64450 "other peripheral nerve" block is a GON block when its body site or text says occipital.
_OCCIPITAL = re.compile(r"occipital", re.IGNORECASE)
#: A strength in milligrams in a product name or dose text ("Aspirin 81 MG Oral Tablet", "81mg daily").
_MILLIGRAMS = re.compile(r"(\d+(?:\.\d+)?)\s*mg\b", re.IGNORECASE)
#: Dose units that mean milligrams (UCUM code or the unit as written).
_MG_UNITS = frozenset({"mg", "milligram", "milligrams"})
#: A CPT descriptor's "cervical or thoracic" names no site (revision-2 C17: has_cervical_site).
_CERVICAL_OR_THORACIC = re.compile(r"\bcervical\s*(?:or|/|and|&)\s*thoracic\b", re.IGNORECASE)


class OrderKind(StrEnum):
    """What a drafted order is, for the order-hook rules."""

    SPINE_IMAGING = "spine-imaging"
    HEAD_IMAGING = "head-imaging"
    VASCULAR_IMAGING = "vascular-imaging"
    MANIPULATION = "manipulation"
    GON_BLOCK = "gon-block"
    PERCUTANEOUS = "percutaneous"
    REFRACTORY = "refractory"
    TOXIN = "toxin"
    OPIOID = "opioid"
    NSAID = "nsaid"
    PARACETAMOL = "paracetamol"
    TRIPTAN = "triptan"
    PT = "pt"
    ANTICOAGULANT = "anticoagulant"
    #: Butalbital products: medication-opioid with the butalbital wording (revision 2 C12).
    BUTALBITAL = "butalbital"
    #: An opioid order of codeine or tramadol (FDA 2017 paediatric restriction; revision 2 C4). Always with OPIOID.
    CODEINE_TRAMADOL = "codeine-tramadol"
    #: Aspirin (also an NSAID unless it is low-dose, which is not an analgesic order: revision 2 C10).
    ASPIRIN = "aspirin"


#: Orders that escalate past step 1 (pt-first-line on order hooks, escalation-premature).
ESCALATION_KINDS = frozenset({OrderKind.GON_BLOCK, OrderKind.PERCUTANEOUS, OrderKind.REFRACTORY, OrderKind.TOXIN})
IMAGING_KINDS = frozenset({OrderKind.SPINE_IMAGING, OrderKind.HEAD_IMAGING, OrderKind.VASCULAR_IMAGING})


# ------------------------------------------------------------------------------------------------ dates


def days_before(day: date, days: int) -> date:
    """``day`` minus ``days`` days, clamped to ``date.min`` instead of overflowing."""
    try:
        return day - timedelta(days=days)
    except OverflowError:
        return date.min


def days_after(day: date, days: int) -> date:
    """``day`` plus ``days`` days, clamped to ``date.max`` instead of overflowing."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max


def months_before(day: date, months: int) -> date:
    """The same day ``months`` months earlier (end of month when shorter), never below ``date.min``."""
    years, month_index = divmod(day.month - 1 - months, 12)
    year = day.year + years
    if year < date.min.year:
        return date.min
    month = month_index + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def years_between(start: date, end: date) -> int | None:
    """Completed years from ``start`` to ``end``; ``None`` when ``start`` is after ``end``."""
    if start > end:
        return None
    return end.year - start.year - ((end.month, end.day) < (start.month, start.day))


def age(record: PatientRecord, today: date) -> int | None:
    """Age in completed years at ``today`` (docs/clinical/reference.md §2.2 ``age``); ``None`` without a birth date."""
    birth = record.patient.birth_date if record.patient is not None else None
    return years_between(birth, today) if birth is not None else None


def is_deceased(record: PatientRecord) -> bool:
    return record.patient is not None and record.patient.deceased


# ------------------------------------------------------------------------------------------------ labels


def code_text(coding: Coding) -> str:
    """The code as people write it (ICD-10-CM with its dot again)."""
    if coding.system in (ICD10CM, ICD10) and len(coding.code) > 3 and "." not in coding.code:
        return f"{coding.code[:3]}.{coding.code[3:]}"
    return coding.code


def resource_label(codings: Iterable[Coding], text: str | None, preferred: Iterable[Coding] = ()) -> str:
    """A human label for a resource: the matched coding's display, else the text, else any display or code."""
    for coding in preferred:
        if coding.display and coding.display.strip():
            return coding.display.strip()
    if text and text.strip():
        return text.strip()
    listed = tuple(codings)
    for coding in listed:
        if coding.display and coding.display.strip():
            return coding.display.strip()
    return code_text(listed[0]) if listed else "unnamed"


# ------------------------------------------------------------------------------------------------ conditions


def _status(value: str | None) -> str | None:
    return _normalised_status(value) if isinstance(value, str) else None


@lru_cache(maxsize=256)
def _normalised_status(value: str) -> str | None:
    # Status codes are a handful of strings asked about many times per evaluation.
    return value.strip().lower() or None


def is_counted(condition: ConditionFacts) -> bool:
    """Not refuted nor entered-in-error (docs/clinical/reference.md §2.1: those are ignored)."""
    return _status(condition.verification_status) not in IGNORED_VERIFICATION


def is_active(condition: ConditionFacts, today: date) -> bool:
    """Counted, and clinically active: active/recurrence/relapse, or no clinicalStatus and not abated.

    inactive / remission / resolved do not count, nor a condition whose abatement date has passed.
    """
    if not is_counted(condition):
        return False
    if condition.abatement is not None and condition.abatement <= today:
        return False
    status = _status(condition.clinical_status)
    return status is None or status in ACTIVE_CLINICAL


def condition_date(condition: ConditionFacts) -> date | None:
    """Onset (onsetDateTime or onsetPeriod.start, as the builder gives it), else recordedDate."""
    return condition.onset if condition.onset is not None else condition.recorded


def in_set(vs: ValueSet, condition: ConditionFacts) -> tuple[Coding, ...]:
    return vs.matching(condition.codings)


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """CGH status (docs/clinical/reference.md §2.2 ``cgh_confirmed`` / ``cgh_suspected``)."""

    confirmed: bool
    suspected: bool
    #: The CGH Condition a referral cites (confirmed first, then specific, legacy, headache).
    principal: ConditionFacts | None
    #: Every Condition that makes CGH confirmed or suspected (trigger role ``diagnosis``).
    conditions: tuple[ConditionFacts, ...]
    #: Cervical-disorder Conditions supporting a suspected diagnosis (trigger role ``cervical-disorder``).
    cervical: tuple[ConditionFacts, ...]
    #: Why CGH is suspected, plain language (fact ``basis``).
    basis: tuple[str, ...]

    @property
    def active(self) -> bool:
        return self.confirmed or self.suspected


NO_DIAGNOSIS = Diagnosis(False, False, None, (), (), ())


def diagnosis(record: PatientRecord, today: date) -> Diagnosis:
    """Confirmed / suspected CGH from the active, counted Conditions (docs/clinical/reference.md §2.2).

    Confirmed: G44.86 (cgh-dx-specific) with verificationStatus confirmed. Suspected: (a) a specific code
    that is provisional, differential, unconfirmed or has no verificationStatus; (b) a legacy code (G44.89,
    M53.0) whatever its verification; (c) a headache Condition plus a cervical-disorder Condition.
    """
    specific = value_set(ValueSetId.CGH_DX_SPECIFIC)
    legacy = value_set(ValueSetId.CGH_DX_LEGACY)
    headache = value_set(ValueSetId.HEADACHE_SYMPTOMS)
    cervical_vs = value_set(ValueSetId.CERVICAL_DISORDERS)
    refutation = _refutation(record, specific)
    if refutation is not None and not refutation.overruled:
        # revision-2 C15: a standing refutation silences every derivation and every earlier G44.86.
        return NO_DIAGNOSIS
    active = [
        c
        for c in record.conditions
        if is_active(c, today) and (refutation is None or not in_set(specific, c) or refutation.dated_after(c))
    ]
    confirmed: list[ConditionFacts] = []
    suspected_specific: list[ConditionFacts] = []
    legacy_conditions: list[ConditionFacts] = []
    headaches: list[ConditionFacts] = []
    cervical: list[ConditionFacts] = []
    basis: list[str] = []
    for condition in active:
        verification = _status(condition.verification_status)
        if in_set(specific, condition):
            if verification == CONFIRMED:
                confirmed.append(condition)
            elif verification is None or verification in SUSPECTED_VERIFICATION:
                suspected_specific.append(condition)
                basis.append(f"{verification} diagnosis" if verification else "diagnosis without verification status")
        matched_legacy = in_set(legacy, condition)
        if matched_legacy:
            legacy_conditions.append(condition)
            basis.append(f"legacy code {code_text(matched_legacy[0])}")
        if in_set(headache, condition):
            headaches.append(condition)
        if in_set(cervical_vs, condition):
            cervical.append(condition)
    headache_with_cervical = bool(headaches and cervical)
    if headache_with_cervical:
        basis.append("headache with a cervical disorder")
    suspected = bool(suspected_specific or legacy_conditions or headache_with_cervical)
    if not confirmed and not suspected:
        return NO_DIAGNOSIS
    conditions = confirmed + suspected_specific + legacy_conditions + (headaches if headache_with_cervical else [])
    return Diagnosis(
        confirmed=bool(confirmed),
        suspected=suspected,
        principal=conditions[0],
        conditions=tuple(dict.fromkeys(conditions)),
        cervical=tuple(cervical) if suspected else (),
        basis=tuple(dict.fromkeys(basis)),
    )


@dataclass(frozen=True, slots=True)
class Refutation:
    """The refuted G44.86 Conditions of a record (revision-2 C15) and whether a later statement overrules them."""

    #: Dates of the refuted G44.86 Conditions (None: undated).
    dates: tuple[date | None, ...]
    #: A non-refuted G44.86 dated after every refutation exists.
    overruled: bool

    def dated_after(self, condition: ConditionFacts) -> bool:
        return _dated_after(condition, self.dates)


def _dated_after(condition: ConditionFacts, dates: Iterable[date | None]) -> bool:
    """Whether ``condition`` is dated after every one of ``dates`` (undated on either side: it is not)."""
    when = condition_date(condition)
    return when is not None and all(other is not None and when > other for other in dates)


def _refutation(record: PatientRecord, specific: ValueSet) -> Refutation | None:
    """revision-2 C15: a refuted G44.86 wins over derivation (headache + neck codes, legacy codes) and over
    earlier G44.86 statements, unless a later, non-refuted G44.86 exists. ``entered-in-error`` is absent: it
    neither counts nor refutes. ``None`` when nothing is refuted."""
    stated = [
        (condition, _status(condition.verification_status))
        for condition in record.conditions
        if in_set(specific, condition) and _status(condition.verification_status) != ENTERED_IN_ERROR
    ]
    dates = tuple(condition_date(condition) for condition, verification in stated if verification == REFUTED)
    if not dates:
        return None
    overruled = any(verification != REFUTED and _dated_after(condition, dates) for condition, verification in stated)
    return Refutation(dates, overruled)


@dataclass(frozen=True, slots=True)
class Onset:
    """When the CGH / headache began (docs/clinical/reference.md §2.2 ``cgh_onset``, ``new_onset``)."""

    when: date | None
    condition: ConditionFacts | None
    new: bool
    #: Age in completed years at onset (None without birth date or onset).
    age_at_onset: int | None


def onset(record: PatientRecord, today: date, thresholds: PathwayThresholds) -> Onset:
    """Earliest onset (or recordedDate) of an active CGH, legacy or headache Condition; new if within
    ``new_onset_months`` of today."""
    sets = (
        value_set(ValueSetId.CGH_DX_SPECIFIC),
        value_set(ValueSetId.CGH_DX_LEGACY),
        value_set(ValueSetId.HEADACHE_SYMPTOMS),
    )
    dated = [
        (when, condition)
        for condition in record.conditions
        if is_active(condition, today) and any(in_set(vs, condition) for vs in sets)
        for when in [condition_date(condition)]
        if when is not None
    ]
    if not dated:
        return Onset(None, None, False, None)
    when, condition = min(dated, key=lambda item: item[0])
    birth = record.patient.birth_date if record.patient is not None else None
    return Onset(
        when=when,
        condition=condition,
        new=when >= months_before(today, thresholds.new_onset_months),
        age_at_onset=years_between(birth, when) if birth is not None else None,
    )


# ------------------------------------------------------------------------------------------------ procedures


def is_completed(procedure: ProcedureFacts) -> bool:
    return _status(procedure.status) == COMPLETED


class PtRegion(StrEnum):
    """The body region a PT session is documented for (revision-2 C2)."""

    HEAD_NECK = "head-neck"
    OTHER = "other"
    UNDOCUMENTED = "undocumented"


#: revision-2 C3: an Encounter is a PT visit when its type or serviceType names physical therapy (beside the
#: PT codes of pt-exercise, e.g. SNOMED 91251008). Words, not codes: "physical therap(y|ist)", "physiotherap...".
_PT_SERVICE_TEXT = re.compile(r"physical\s+therap|physiotherap", re.IGNORECASE)
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
FINISHED = "finished"
#: Systems whose codes decide on their own; free text is read only for resources without them (revision-2 §3).
_CLINICAL_SYSTEMS = (ICD10CM, ICD10, SNOMED)
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
    if any(value_set(vs_id).contains_any(codings) for vs_id in _HEAD_NECK_CONDITIONS):
        return PtRegion.HEAD_NECK
    displays = [coding.display for coding in codings]
    if has_coding_in(codings, _CLINICAL_SYSTEMS):
        return text_region(displays)
    return text_region([*texts, *displays])


def is_pt_referral(request: ServiceRequestFacts) -> bool:
    return value_set(ValueSetId.PT_EXERCISE).contains_any(request.codings)


def encounter_is_used(types: tuple[Coding, ...], type_texts: tuple[str, ...]) -> bool:
    """Whether an Encounter of these ``type``/``serviceType`` codings and texts is physical therapy
    (revision-2 C3): a PT code, or "physical therap..." / "physiotherap..." in a text or display.

    The data layer asks it before reading an Encounter: the visits of a Procedure are read anyway, and the
    rest of a record's visits (most of them) are of no use to the pathway.
    """
    if value_set(ValueSetId.PT_EXERCISE).contains_any(types):
        return True
    texts = [*type_texts, *(coding.display or "" for coding in types)]
    return any(_PT_SERVICE_TEXT.search(text) for text in texts)


def is_pt_visit(encounter: EncounterFacts) -> bool:
    """A finished Encounter whose type or serviceType is physical therapy (revision-2 C3)."""
    return _status(encounter.status) == FINISHED and encounter_is_used(encounter.types, encounter.type_texts)


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


@dataclass(frozen=True, slots=True)
class PtTrial:
    """The current PT course and trial (docs/clinical/reference.md §2.2 pt_sessions, pt_first, adequate_pt_trial;
    revision-2
    C1-C3).

    The *course* is every session-date whose region is head/neck or undocumented (sessions documented for
    another region never count); it shows that PT is under way. The *trial* that escalation rests on is the
    head/neck session-dates only: ``adequate`` is about them, ``course_adequate`` about the whole course.
    """

    #: Session-dates of the course (re-evaluations count for its dates, not as sessions).
    session_dates: tuple[date, ...]
    first: date | None
    #: Weeks of treatment: first to last session, the first week counted (49 days = 8 weeks).
    weeks: int
    #: An adequate trial of documented head / neck sessions: the escalation gate (revision-2 C1, C2).
    adequate: bool
    #: Completed PT procedures of the course in the look-back (trigger role ``pt-session``).
    procedures: tuple[ProcedureFacts, ...]
    #: An active PT referral (ServiceRequest) not documented for another region.
    referral: tuple[ServiceRequestFacts, ...]
    last: date | None = None
    #: The whole course would be adequate, whatever its documented region.
    course_adequate: bool = False
    #: Course session-dates whose region is not documented (revision-2 C2: "region ... not documented").
    undocumented_dates: tuple[date, ...] = ()
    #: Some session carries an exercise code (revision-2 C1: otherwise "exercise not documented").
    exercise_documented: bool = False
    #: Not adequate and no session for ``pt_stopped_weeks`` (revision-2 C1).
    stopped: bool = False
    #: Finished PT Encounters of the course (revision-2 C3; trigger role ``pt-session``).
    visits: tuple[EncounterFacts, ...] = ()
    #: Completed PT referrals in the look-back, not for another region (revision-2 C3).
    completed_referrals: tuple[ServiceRequestFacts, ...] = ()
    #: PT sessions were left out because they are documented for another region.
    other_region: bool = False

    @property
    def sessions(self) -> int:
        return len(self.session_dates)


def _adequate(session_dates: set[date], all_dates: set[date], thresholds: PathwayThresholds) -> bool:
    """revision-2 C1: at least ``pt_min_sessions`` session-dates and last - first >= (pt_min_weeks - 1) weeks."""
    if len(session_dates) < thresholds.pt_min_sessions or not all_dates:
        return False
    return (max(all_dates) - min(all_dates)).days >= (thresholds.pt_min_weeks - 1) * 7


def pt_trial(record: PatientRecord, today: date, thresholds: PathwayThresholds) -> PtTrial:
    """PT session-dates in the look-back: distinct dates of completed PT procedures and finished PT
    Encounters (a date counts once), not billing lines (docs/clinical/reference.md §2.2; revision-2 C1-C3).

    The PT re-evaluation (pt-reevaluation, 97164) counts toward the course's dates but not toward sessions.
    Procedures and Encounters without a date, in the future, or older than ``pt_lookback_months`` are not
    counted. A date's region is head/neck when any session of that date documents it, else another region
    when any does (those dates never count), else undocumented.
    """
    sessions_vs = value_set(ValueSetId.PT_EXERCISE)
    reeval_vs = value_set(ValueSetId.PT_REEVALUATION)
    exercise_vs = value_set(ValueSetId.PT_THERAPEUTIC_EXERCISE)
    start = months_before(today, thresholds.pt_lookback_months)
    regions = _Regions(record, start, today)
    # (date, region, counts as a session, resource)
    found: list[tuple[date, PtRegion, bool, ProcedureFacts | EncounterFacts]] = []
    for procedure in record.procedures:
        when = procedure.performed
        if not is_completed(procedure) or when is None or not start <= when <= today:
            continue
        is_session = sessions_vs.contains_any(procedure.codings)
        if is_session or reeval_vs.contains_any(procedure.codings):
            found.append((when, regions.procedure(procedure), is_session, procedure))
    for encounter in record.encounters:
        when = encounter.start
        if when is not None and start <= when <= today and is_pt_visit(encounter):
            found.append((when, regions.encounter(encounter), True, encounter))
    by_date: dict[date, list[PtRegion]] = {}
    for when, region, _, _ in found:
        by_date.setdefault(when, []).append(region)
    date_region = {when: _combined(listed) for when, listed in by_date.items()}
    course = [item for item in found if date_region[item[0]] is not PtRegion.OTHER]
    all_dates = {when for when, _, _, _ in course}
    session_dates = {when for when, _, is_session, _ in course if is_session}
    neck_all = {when for when in all_dates if date_region[when] is PtRegion.HEAD_NECK}
    neck_sessions = session_dates & neck_all
    first = min(all_dates) if all_dates else None
    last = max(all_dates) if all_dates else None
    weeks = (last - first).days // 7 + 1 if first is not None and last is not None else 0
    course_adequate = _adequate(session_dates, all_dates, thresholds)
    stopped = (
        not course_adequate and last is not None and (today - last).days >= thresholds.pt_stopped_weeks * 7
    )
    procedures = tuple(r for _, _, _, r in course if isinstance(r, ProcedureFacts))
    referral = tuple(
        request
        for request in record.service_requests
        if _status(request.status) == "active"
        and is_pt_referral(request)
        and regions.referral(request) is not PtRegion.OTHER
    )
    completed_referrals = tuple(
        request
        for request in record.service_requests
        if _status(request.status) == COMPLETED
        and is_pt_referral(request)
        and start <= (_request_date(request) or today) <= today
        and regions.referral(request) is not PtRegion.OTHER
    )
    return PtTrial(
        session_dates=tuple(sorted(session_dates)),
        first=first,
        weeks=weeks,
        adequate=_adequate(neck_sessions, neck_all, thresholds),
        procedures=procedures,
        referral=referral,
        last=last,
        course_adequate=course_adequate,
        undocumented_dates=tuple(sorted(d for d in session_dates if date_region[d] is PtRegion.UNDOCUMENTED)),
        exercise_documented=any(exercise_vs.contains_any(p.codings) for p in procedures),
        stopped=stopped,
        visits=tuple(r for _, _, _, r in course if isinstance(r, EncounterFacts)),
        completed_referrals=completed_referrals,
        other_region=len(course) < len(found),
    )


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


#: The only Observations any rule reads (outcomes, block relief, pregnancy status).
_OBSERVATION_SETS = (
    ValueSetId.HEADACHE_FREQUENCY_OBSERVATION,
    ValueSetId.TREATMENT_RESPONSE_OBSERVATION,
    ValueSetId.BLOCK_RELIEF_OBSERVATION,
    ValueSetId.PREGNANCY_STATUS_OBSERVATION,
)


def observation_is_used(codings: Iterable[Coding]) -> bool:
    """Whether any rule reads an Observation coded ``codings``.

    The data layer uses it to leave out the rest (vital signs, labs) before reading their values: a real
    record holds hundreds of them and the pathway asks about none.
    """
    listed = tuple(codings)
    for vs_id in _OBSERVATION_SETS:
        if value_set(vs_id).contains_any(listed):
            return True
    return False


# ------------------------------------------------------------------------------------------------ outcomes


def _usable(observation: ObservationFacts, today: date) -> bool:
    return (
        _status(observation.status) not in IGNORED_OBSERVATION
        and observation.effective is not None
        and observation.effective <= today
    )


def _latest(observations: Iterable[ObservationFacts]) -> ObservationFacts | None:
    dated = [o for o in observations if o.effective is not None]
    return max(dated, key=lambda o: o.effective or date.min) if dated else None


@dataclass(frozen=True, slots=True)
class Outcome:
    """Response to the PT trial (docs/clinical/reference.md §2.2 ``inadequate_response``).

    ``has_data`` False means no usable outcome: the service never infers failure and asks for the response
    to be documented (pt-document-response) instead of escalating.
    """

    has_data: bool
    inadequate: bool
    #: Plain-language summary (fact ``response``), e.g. "25% reduction in headache frequency (12 to 9 ...)".
    response: str | None
    #: The Observations the judgement rests on (trigger role ``outcome``).
    observations: tuple[ObservationFacts, ...]


NO_OUTCOME = Outcome(False, False, None, ())


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _number(value: float) -> str:
    return f"{value:g}"


def outcome(record: PatientRecord, pt: PtTrial, today: date, thresholds: PathwayThresholds) -> Outcome:
    """Outcome of the PT trial, from the latest follow-up within ``response_months`` (revision-2 C17): an
    explicit treatment-response Observation at/after ``pt_first``, or headache frequency at/after
    ``pt_first + pt_min_weeks`` against the last baseline before ``pt_first`` (same code, so per-month is
    never compared with per-week), whichever is later (the explicit one on the same day): a reduction below
    ``responder_reduction`` is inadequate. No PT start, no baseline, a zero baseline or no recent follow-up:
    no data.
    """
    if pt.first is None:
        return NO_OUTCOME
    recent = months_before(today, thresholds.response_months)
    first = pt.first
    response_vs = value_set(ValueSetId.TREATMENT_RESPONSE_OBSERVATION)
    inadequate_vs = value_set(ValueSetId.RESPONSE_INADEQUATE)
    adequate_vs = value_set(ValueSetId.RESPONSE_ADEQUATE)
    explicit = [
        o
        for o in record.observations
        if _usable(o, today)
        and (o.effective or date.min) >= max(first, recent)
        and response_vs.contains_any(o.codings)
        and (inadequate_vs.contains_any(o.value_codings) or adequate_vs.contains_any(o.value_codings))
    ]
    latest = _latest(explicit)
    frequency = _frequency_outcome(record, first, today, thresholds, recent)
    follow_up = _latest(frequency.observations)
    if latest is not None and (
        follow_up is None or (latest.effective or date.min) >= (follow_up.effective or date.min)
    ):
        inadequate = inadequate_vs.contains_any(latest.value_codings)
        label = "documented inadequate response" if inadequate else "documented adequate response"
        return Outcome(True, inadequate, label, (latest,))
    return frequency


def _frequency_outcome(
    record: PatientRecord, first: date, today: date, thresholds: PathwayThresholds, recent: date
) -> Outcome:
    frequency_vs = value_set(ValueSetId.HEADACHE_FREQUENCY_OBSERVATION)
    follow_up_from = max(days_after(first, thresholds.pt_min_weeks * 7), recent)
    by_code: dict[tuple[str, str], list[ObservationFacts]] = {}
    for observation in record.observations:
        # Non-finite quantities (a feed's overflow or NaN) carry no frequency.
        if not _usable(observation, today) or not _finite(observation.value_quantity):
            continue
        for coding in frequency_vs.matching(observation.codings)[:1]:
            by_code.setdefault(coding.key, []).append(observation)
    best: tuple[ObservationFacts, ObservationFacts] | None = None
    for observations in by_code.values():
        baseline = _latest(o for o in observations if (o.effective or date.max) < first)
        follow_up = _latest(o for o in observations if (o.effective or date.min) >= follow_up_from)
        if baseline is None or follow_up is None or not baseline.value_quantity:
            continue
        if best is None or (follow_up.effective or date.min) > (best[1].effective or date.min):
            best = (baseline, follow_up)
    if best is None:
        return NO_OUTCOME
    baseline, follow_up = best
    before = baseline.value_quantity or 0.0
    after = follow_up.value_quantity or 0.0
    reduction = (before - after) / before
    unit = f" {follow_up.value_unit}" if follow_up.value_unit else ""
    span = f"{_number(before)} to {_number(after)}{unit}"
    if reduction > 0:
        response = f"{round(reduction * 100)}% reduction in headache frequency ({span})"
    else:
        response = f"no reduction in headache frequency ({span})"
    return Outcome(True, reduction < thresholds.responder_reduction, response, (baseline, follow_up))


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


# ------------------------------------------------------------------------------------------------ orders


@dataclass(frozen=True, slots=True)
class DraftOrder:
    """One order from ``context.draftOrders``, classified."""

    ref: str
    label: str
    kinds: frozenset[OrderKind]
    #: Judged at this moment (order-sign: every draft; order-select: the selections); others are context.
    judged: bool
    authored: date | None = None
    #: The term that recognised the order when no code did (revision 2 §3): the card says "matched by name".
    matched_by_name: str | None = None
    #: Aspirin only: milligrams a day when the product strength or dose says so (revision 2 C10), else None.
    aspirin_mg_per_day: float | None = None
    #: Region the order documents (revision-2 C19): CERVICAL, OTHER_REGION, or None when it names none.
    region: str | None = None
    #: Imaging study types (categories of the imaging-studies value set, revision-2 C09).
    studies: frozenset[str] = frozenset()


#: Regions of a manipulation order (revision-2 C19).
CERVICAL = "cervical"
OTHER_REGION = "other-region"


def order_region(text: str) -> str | None:
    """CERVICAL when the order's text or body site names the neck; OTHER_REGION when it names only another
    region; None when it names none (revision-2 C19)."""
    if _CERVICAL.search(text):
        return CERVICAL
    if _NON_CERVICAL.search(text):
        return OTHER_REGION
    return None


def imaging_studies(codings: Iterable[Coding]) -> frozenset[str]:
    """The study types of an imaging order (revision-2 C09), from the imaging-studies value set."""
    studies_vs = value_set(ValueSetId.IMAGING_STUDIES)
    return frozenset(
        group.category
        for coding in studies_vs.matching(codings)
        for group in studies_vs.groups(coding)
        if group.category
    )


_SERVICE_KINDS: tuple[tuple[ValueSetId, OrderKind], ...] = (
    (ValueSetId.CERVICAL_SPINE_IMAGING, OrderKind.SPINE_IMAGING),
    (ValueSetId.HEAD_IMAGING, OrderKind.HEAD_IMAGING),
    (ValueSetId.NEUROVASCULAR_IMAGING, OrderKind.VASCULAR_IMAGING),
    (ValueSetId.MANIPULATION, OrderKind.MANIPULATION),
    (ValueSetId.PERCUTANEOUS, OrderKind.PERCUTANEOUS),
    (ValueSetId.REFRACTORY, OrderKind.REFRACTORY),
    (ValueSetId.BOTULINUM_TOXIN, OrderKind.TOXIN),
    (ValueSetId.PT_EXERCISE, OrderKind.PT),
    (ValueSetId.PT_REEVALUATION, OrderKind.PT),
)
_MEDICATION_KINDS: tuple[tuple[ValueSetId, OrderKind], ...] = (
    (ValueSetId.OPIOIDS, OrderKind.OPIOID),
    (ValueSetId.NSAIDS, OrderKind.NSAID),
    (ValueSetId.PARACETAMOL, OrderKind.PARACETAMOL),
    (ValueSetId.TRIPTANS, OrderKind.TRIPTAN),
    (ValueSetId.ANTICOAGULANTS, OrderKind.ANTICOAGULANT),
    (ValueSetId.BUTALBITAL, OrderKind.BUTALBITAL),
    (ValueSetId.ASPIRIN, OrderKind.ASPIRIN),
)
#: Opioid groups (value-set categories of ``opioids``) that change what the order means (revision 2 C4, C12).
CODEINE_TRAMADOL = "codeine-tramadol"
METHADONE_BUPRENORPHINE = "methadone-buprenorphine"
#: A procedure order is judged by these codings; only without any of them may it be recognised by name.
_PROCEDURE_SYSTEMS = (CPT, HCPCS, SNOMED, RXNORM)


def _order_text(order: OrderFacts) -> str:
    parts = [order.text or ""]
    if isinstance(order, ServiceRequestFacts):
        parts.extend(order.notes)
        parts.extend(coding.display or "" for coding in order.body_site)
    return " ".join(parts)


@dataclass(frozen=True, slots=True)
class OrderClass:
    """What a drafted order is, and the term that recognised it when no code did."""

    kinds: frozenset[OrderKind]
    matched_by_name: str | None = None


def classify_order(order: OrderFacts, conditions: Iterable[ConditionFacts] = ()) -> frozenset[OrderKind]:
    """The kinds of a drafted order (see :func:`classify`)."""
    return classify(order, conditions).kinds


def classify(order: OrderFacts, conditions: Iterable[ConditionFacts] = ()) -> OrderClass:
    """The kinds of a drafted order, by code; by name only where no deciding code is present (revision 2 §3).

    A PT order counts as manipulation only when its text documents a cervical thrust (docs/clinical/reference.md §1.4).
    Botulinum toxin is also recognised by ingredient or brand name (revision 2 C11) on a medication without
    RxNorm coding or a procedure order without CPT/HCPCS/SNOMED coding. Treatment of opioid use disorder is
    not an opioid order (revision 2 C12); ``conditions`` resolve an order's ``reasonReference``.
    """
    kinds: set[OrderKind] = set()
    names: list[str] = []
    text = _order_text(order)
    for vs_id, kind in _SERVICE_KINDS:
        if value_set(vs_id).contains_any(order.codings):
            kinds.add(kind)
    if is_gon_block(order.codings, text):
        kinds.add(OrderKind.GON_BLOCK)
    toxin_vs = value_set(ValueSetId.BOTULINUM_TOXIN)
    if isinstance(order, MedicationRequestFacts):
        toxin = toxin_vs.medication_match(order.codings, order.text)
        for vs_id, kind in _MEDICATION_KINDS:
            match = value_set(vs_id).medication_match(order.codings, order.text)
            if match is None:
                continue
            kinds.add(kind)
            names.extend([match.matched_by_name] if match.matched_by_name else [])
            if kind is OrderKind.OPIOID:
                if CODEINE_TRAMADOL in match.categories:
                    kinds.add(OrderKind.CODEINE_TRAMADOL)
                if _treats_opioid_use_disorder(order, match, conditions):
                    kinds -= {OrderKind.OPIOID, OrderKind.CODEINE_TRAMADOL}
    else:
        toxin = toxin_vs.medication_match(order.codings, text, deciding=_PROCEDURE_SYSTEMS)
    if toxin is not None:
        kinds.add(OrderKind.TOXIN)
        names.extend([toxin.matched_by_name] if toxin.matched_by_name else [])
    if OrderKind.PT in kinds and _THRUST.search(text) and _CERVICAL.search(text):
        kinds.add(OrderKind.MANIPULATION)
    return OrderClass(frozenset(kinds), names[0] if names else None)


def _treats_opioid_use_disorder(
    order: MedicationRequestFacts, opioid: MedicationMatch, conditions: Iterable[ConditionFacts]
) -> bool:
    """Revision 2 C12: buprenorphine-naloxone and extended-release buprenorphine products, or methadone /
    buprenorphine (and nothing else opioid) whose reason is an opioid use disorder (F11.-)."""
    if value_set(ValueSetId.OPIOID_USE_DISORDER_TREATMENT).medication_match(order.codings, order.text) is not None:
        return True
    if opioid.categories != {METHADONE_BUPRENORPHINE}:
        return False
    disorder = value_set(ValueSetId.OPIOID_USE_DISORDER)
    if disorder.contains_any(order.reason_codings):
        return True
    if not has_coding_in(order.reason_codings, _CLINICAL_SYSTEMS) and disorder.name_hit(*order.reason_texts):
        return True
    reasons = frozenset(order.reason_refs)
    return any(c.ref in reasons and is_counted(c) and disorder.contains_any(c.codings) for c in conditions)


def aspirin_mg_per_day(order: MedicationRequestFacts) -> float | None:
    """Milligrams of aspirin a day, when the record says so (revision 2 C10: <= 150 mg is prophylaxis).

    The strength is the milligram figure right after an aspirin name ("Aspirin 81 MG Oral Tablet", "aspirin
    250 MG / acetaminophen 250 MG / caffeine 65 MG", as RxNorm names products), else the one milligram figure of
    the name; several figures none of which follows an aspirin name, or none at all, give no strength. Each
    dosage instruction gives a dose in mg, or a number of units of that strength (else the strength, or a single
    mg figure in its text), times the administrations a day its timing states (once when unstated). The largest
    instruction wins; None when nothing says.
    """
    names = [order.text, *(coding.display for coding in order.codings)]
    strength = _named_milligrams(names)
    if strength is None:
        strength = _single_milligrams(names)
    daily = [dose for dose in (_daily_milligrams(d, strength) for d in order.dosage) if dose is not None]
    if daily:
        return max(daily)
    return strength


@lru_cache(maxsize=1)
def _aspirin_strength() -> re.Pattern[str]:
    # The aspirin value set's own names (ingredient, brands), so no drug name is written in Python.
    names = sorted((term for term, _group in value_set(ValueSetId.ASPIRIN).name_terms()), key=len, reverse=True)
    alternatives = "|".join(re.escape(name) for name in names)
    return re.compile(r"(?<!\w)(?:" + alternatives + r")\s+(\d+(?:\.\d+)?)\s*mg\b", re.IGNORECASE)


def _named_milligrams(texts: Iterable[str | None]) -> float | None:
    found = {float(value) for text in texts if text for value in _aspirin_strength().findall(text)}
    return found.pop() if len(found) == 1 else None


def _single_milligrams(texts: Iterable[str | None]) -> float | None:
    found = {float(value) for text in texts if text for value in _MILLIGRAMS.findall(text)}
    return found.pop() if len(found) == 1 else None


def _daily_milligrams(dose: DoseFacts, strength: float | None) -> float | None:
    unit = (dose.unit or "").strip().lower()
    if dose.quantity is not None and unit in _MG_UNITS:
        each: float | None = dose.quantity
    elif dose.quantity is not None and strength is not None:
        each = dose.quantity * strength
    else:
        each = strength if strength is not None else _single_milligrams([dose.text])
    if each is None:
        return None
    return each * (dose.per_day if dose.per_day is not None else 1.0)


def draft_orders(
    record: PatientRecord, moment: Moment, thresholds: PathwayThresholds | None = None
) -> tuple[DraftOrder, ...]:
    """Every draft order, classified and marked judged per ``moment`` (record review judges none).

    Aspirin at or below ``low_dose_aspirin_mg`` a day is not an analgesic order (revision 2 C10): it loses
    its NSAID kind and keeps ASPIRIN.
    """
    limits = thresholds if thresholds is not None else PathwayThresholds()
    result = []
    for order in record.draft_orders:
        if moment is Moment.ORDER_SIGN:
            judged = True
        elif moment is Moment.ORDER_SELECT:
            judged = order.ref in record.selections
        else:
            judged = False
        # Service orders are named by our short label of their code when a value set lists it (issue 15);
        # medications keep their product name, which carries the strength.
        short = short_name(order.codings) if isinstance(order, ServiceRequestFacts) else None
        label = short or resource_label(order.codings, order.text)
        found = classify(order, record.conditions)
        kinds = found.kinds
        daily: float | None = None
        if OrderKind.ASPIRIN in kinds and isinstance(order, MedicationRequestFacts):
            daily = aspirin_mg_per_day(order)
            if daily is not None and daily <= limits.low_dose_aspirin_mg:
                kinds = kinds - {OrderKind.NSAID}
        result.append(
            DraftOrder(
                order.ref,
                label,
                kinds,
                judged,
                order.authored,
                found.matched_by_name,
                daily,
                region=order_region(_order_text(order)),
                studies=imaging_studies(order.codings) if kinds & IMAGING_KINDS else frozenset(),
            )
        )
    return tuple(result)


# ------------------------------------------------------------------------------------------------ findings


@dataclass(frozen=True, slots=True)
class Finding:
    """One red flag, contraindication, differential or pregnancy signal, with the resource behind it."""

    category: str
    label: str
    ref: str
    display: str | None = None
    when: date | None = None
    tier: str | None = None
    #: Set when the resource was recognised by the safety name fallback (revision 2 §3): the matched term.
    matched_by_name: str | None = None


def _condition_findings(conditions: Iterable[ConditionFacts], vs: ValueSet) -> list[Finding]:
    findings = []
    for condition in conditions:
        # Dual coding (revision-2 §3): SNOMED and ICD-10-CM codings of one Condition in one group are one finding.
        seen: set[tuple[str | None, str | None, str | None]] = set()
        for coding in vs.matching(condition.codings):
            for group in vs.groups(coding):
                if (group.category, group.label, group.tier) in seen:
                    continue
                seen.add((group.category, group.label, group.tier))
                findings.append(
                    Finding(
                        category=group.category or vs.id,
                        label=group.label or vs.title,
                        ref=condition.ref,
                        display=resource_label(condition.codings, condition.text, (coding,)),
                        when=condition_date(condition),
                        tier=group.tier,
                    )
                )
    return findings


def _unique(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    return tuple(dict.fromkeys(findings))


def recent_trauma(record: PatientRecord, today: date, thresholds: PathwayThresholds) -> tuple[Finding, ...]:
    """Trauma codes within ``trauma_window_weeks`` of today (docs/clinical/reference.md §2.2, §2.6).

    Whatever their clinical status (a resolved whiplash of three weeks ago is still recent trauma), except
    refuted / entered-in-error. Undated trauma counts only while active (the conservative reading).
    """
    vs = value_set(ValueSetId.RECENT_TRAUMA)
    window_start = days_before(today, thresholds.trauma_window_weeks * 7)
    recent = [
        condition
        for condition in record.conditions
        if is_counted(condition)
        and (
            (condition_date(condition) or date.min) >= window_start
            if condition_date(condition) is not None
            else is_active(condition, today)
        )
    ]
    return _unique(safety_findings((c for c in recent if not is_excluded(c)), vs))


@dataclass(frozen=True, slots=True)
class Pregnancy:
    """docs/clinical/reference.md §2.2 ``pregnant`` and ``gest_weeks``, as revision 2 C10 defines them."""

    pregnant: bool
    gest_weeks: int | None
    evidence: tuple[Finding, ...]
    #: Active puerperium Conditions (O85-O92): not pregnant, but a red flag with a new headache (C8, C10).
    puerperium: tuple[Finding, ...] = ()


def pregnancy(record: PatientRecord, today: date, thresholds: PathwayThresholds) -> Pregnancy:
    """Pregnant from any signal (revision 2 C10): an active Condition in ``pregnancy`` (Z33.1, Z34.-, Z32.01,
    Z3A.-, chapter-15 O-codes other than deliveries and the puerperium, SNOMED normal pregnancy / pregnant), or
    the latest pregnancy-status Observation saying pregnant. A signal expires ``pregnancy_signal_months`` after
    its date, or at a delivery (``delivery``: Z37.-, O80, O82) dated after it; an undated Condition counts while
    active.

    ``gest_weeks``: the latest-dated current Z3A.xx, advanced by the whole weeks since its date.
    """
    pregnancy_vs = value_set(ValueSetId.PREGNANCY)
    weeks_vs = value_set(ValueSetId.GESTATIONAL_AGE)
    puerperium_vs = value_set(ValueSetId.PUERPERIUM)
    delivery_vs = value_set(ValueSetId.DELIVERY)
    deliveries = [
        when
        for c in record.conditions
        if is_counted(c) and delivery_vs.contains_any(c.codings)
        for when in [condition_date(c)]
        if when is not None and when <= today
    ]
    expired_before = months_before(today, thresholds.pregnancy_signal_months)

    def current(when: date | None) -> bool:
        if when is None:
            return True
        return when > expired_before and not any(delivered > when for delivered in deliveries)

    active = [c for c in record.conditions if is_active(c, today)]
    signals = [
        c
        for c in active
        if pregnancy_vs.contains_any(c.codings)
        and not puerperium_vs.contains_any(c.codings)
        and current(condition_date(c))
    ]
    evidence = [
        Finding(
            "pregnancy",
            "pregnancy",
            c.ref,
            resource_label(c.codings, c.text, pregnancy_vs.matching(c.codings)),
            condition_date(c),
        )
        for c in signals
    ]
    status_vs = value_set(ValueSetId.PREGNANCY_STATUS_OBSERVATION)
    latest = _latest(
        o
        for o in record.observations
        if _usable(o, today) and (o.effective or date.min) > expired_before and status_vs.contains_any(o.codings)
    )
    if latest is not None and pregnancy_vs.contains_any(latest.value_codings) and current(latest.effective):
        evidence.append(
            Finding(
                "pregnancy",
                "pregnancy",
                latest.ref,
                resource_label(latest.value_codings, latest.value_text),
                latest.effective,
            )
        )
    gest_weeks: int | None = None
    staged = [
        (condition_date(c), weeks)
        for c in signals
        for coding in c.codings
        for weeks in [weeks_vs.gestational_weeks(coding)]
        if weeks is not None
    ]
    if staged:
        when, weeks = max(staged, key=lambda item: item[0] or date.min)
        elapsed = (today - when).days // 7 if when is not None and when <= today else 0
        gest_weeks = weeks + elapsed
    puerperium = [
        Finding(
            "puerperium",
            "puerperium",
            c.ref,
            resource_label(c.codings, c.text, puerperium_vs.matching(c.codings)),
            condition_date(c),
        )
        for c in active
        if puerperium_vs.contains_any(c.codings)
    ]
    return Pregnancy(bool(evidence), gest_weeks, tuple(evidence), tuple(puerperium))


def anticoagulation(record: PatientRecord, drafts: Iterable[DraftOrder], today: date) -> tuple[Finding, ...]:
    """An active (or drafted) anticoagulant MedicationRequest, or active Z79.01 (docs/clinical/reference.md §2.2,
    §2.6)."""
    meds_vs = value_set(ValueSetId.ANTICOAGULANTS)
    status_vs = value_set(ValueSetId.ANTICOAGULATION_STATUS)
    label = "anticoagulation"
    findings = [
        Finding(
            "anticoagulation",
            label,
            m.ref,
            resource_label(m.codings, m.text),
            m.authored,
            "relative",
            matched_by_name=match.matched_by_name,
        )
        for m in record.medication_requests
        if _status(m.status) in ACTIVE_MEDICATION
        for match in [meds_vs.medication_match(m.codings, m.text)]
        if match is not None
    ]
    findings.extend(
        Finding("anticoagulation", label, d.ref, d.label, d.authored, "relative", matched_by_name=d.matched_by_name)
        for d in drafts
        if OrderKind.ANTICOAGULANT in d.kinds
    )
    findings.extend(
        Finding(
            "anticoagulation",
            label,
            c.ref,
            resource_label(c.codings, c.text, status_vs.matching(c.codings)),
            condition_date(c),
            "relative",
        )
        for c in record.conditions
        if is_active(c, today) and status_vs.contains_any(c.codings)
    )
    return _unique(findings)


#: Red-flag categories that the derived flags use (the value sets name the coded ones).
NEW_ONSET_OLDER_ADULT = "new-onset-older-adult"
PREGNANCY_NEW_HEADACHE = "pregnancy-new-headache"
TRAUMA = "trauma"
#: Head injury / concussion within the trauma window (recent-trauma): a red flag, not a contraindication.
HEAD_INJURY = "head-injury"
#: Vascular imaging drafted or pending (revision-2 C07): a manipulation contraindication, never a red flag.
DISSECTION_WORKUP = "dissection-workup"
#: History of malignancy (Z85.-, a malignancy code no longer active) and immunosuppression (revision-2 C08).
MALIGNANCY_HISTORY = "malignancy-history"
MALIGNANCY = "malignancy"
IMMUNOSUPPRESSION = "immunosuppression"
#: Recent red flags that count only while active as well (revision-2 C08: fever).
_ACTIVE_ONLY_RECENT = frozenset({"fever"})
#: Look-back of the dated red flags and of dizziness (revision-2 C06, C08), and of a pending vascular study (C07).
RECENT_MONTHS = 12
WORKUP_DAYS = 30
#: Systems whose coding on a Condition decides by code alone: the name fallback applies only without them.
_CONDITION_CODE_SYSTEMS = frozenset({ICD10CM, ICD10, SNOMED})
#: clinicalStatus words a history finding names (revision-2 C05: "history of …", "resolved 2023").
_HISTORY_STATUSES = frozenset({"inactive", "remission", "resolved"})


def _condition_texts(condition: ConditionFacts) -> tuple[str | None, ...]:
    return (condition.text, *(coding.display for coding in condition.codings))


def is_excluded(condition: ConditionFacts) -> bool:
    """On the exclusion list (C44.-, Z85.828, Z80.-, Z12.-), by any coding or, without ICD-10-CM/SNOMED coding,
    by name: left out of every safety group whatever its other codings say (revision-2 §3)."""
    exclusions = value_set(ValueSetId.RED_FLAG_EXCLUSIONS)
    if exclusions.contains_any(condition.codings):
        return True
    if has_coding_in(condition.codings, _CONDITION_CODE_SYSTEMS):
        return False
    return exclusions.name_hit(*_condition_texts(condition)) is not None


def safety_conditions(record: PatientRecord) -> list[ConditionFacts]:
    """The Conditions the safety groups read: counted (not refuted / entered-in-error) and not excluded."""
    return [c for c in record.conditions if is_counted(c) and not is_excluded(c)]


def safety_findings(conditions: Iterable[ConditionFacts], vs: ValueSet) -> list[Finding]:
    """Findings of a safety group (revision-2 C05/C06/C08 and §3): any coding matching; a Condition with no
    ICD-10-CM or SNOMED coding matches by name (``matched_by_name``).

    Callers pass :func:`safety_conditions` only (never refuted, entered-in-error or excluded).
    """
    findings: list[Finding] = []
    for condition in conditions:
        coded = _condition_findings((condition,), vs)
        if coded or has_coding_in(condition.codings, _CONDITION_CODE_SYSTEMS):
            findings.extend(coded)
            continue
        hit = vs.name_hit(*_condition_texts(condition))
        if hit is not None:
            findings.append(
                Finding(
                    category=hit.group.category or vs.id,
                    label=hit.group.label or vs.title,
                    ref=condition.ref,
                    display=resource_label(condition.codings, condition.text),
                    when=condition_date(condition),
                    tier=hit.group.tier,
                    matched_by_name=hit.term,
                )
            )
    return findings


def _history_worded(condition: ConditionFacts) -> bool:
    """Recognised by name only, with text that records a past problem (never true for a coded Condition)."""
    if has_coding_in(condition.codings, _CONDITION_CODE_SYSTEMS):
        return False
    return any(text and _HISTORY_WORDING.search(text) for text in _condition_texts(condition))


def history_status(condition: ConditionFacts, today: date) -> str | None:
    """How a no-longer-active Condition ended, for the card ("resolved 2023", "in remission"); None while active."""
    if is_active(condition, today):
        return None
    status = _status(condition.clinical_status)
    word = status if status in _HISTORY_STATUSES else "resolved"
    if word == "remission":
        word = "in remission"
    if condition.abatement is not None:
        return f"{word} {condition.abatement.year}"
    return word


def _as_history(finding: Finding, condition: ConditionFacts, today: date) -> Finding:
    status = history_status(condition, today)
    if status is None:
        return finding
    display = f"{finding.display}, {status}" if finding.display else None
    return replace(finding, label=f"history of {finding.label} ({status})", display=display)


def _dated_within(condition: ConditionFacts, start: date, today: date) -> bool:
    """Dated on or after ``start``; an undated Condition only while active (the trauma-window reading)."""
    when = condition_date(condition)
    return when >= start if when is not None else is_active(condition, today)


def new_or_changed_headache(record: PatientRecord, today: date) -> bool:
    """An active CGH, headache, neck-pain or cervical-disorder Condition dated within 12 months, or undated
    (revision-2 C08: the red flags of history need a new or changed headache or neck pain)."""
    sets = (
        value_set(ValueSetId.CGH_DX_SPECIFIC),
        value_set(ValueSetId.CGH_DX_LEGACY),
        value_set(ValueSetId.HEADACHE_SYMPTOMS),
        value_set(ValueSetId.CERVICAL_DISORDERS),
    )
    start = months_before(today, RECENT_MONTHS)
    for condition in record.conditions:
        if not is_active(condition, today) or not any(vs.contains_any(condition.codings) for vs in sets):
            continue
        when = condition_date(condition)
        if when is None or when >= start:
            return True
    return False


def imaging_history(
    record: PatientRecord, today: date, conditions: Sequence[ConditionFacts] | None = None
) -> tuple[Finding, ...]:
    """History of malignancy (Z85.-, or a malignancy code that is no longer active) and active
    immunosuppression, whatever the dates (revision-2 C08). A red flag only with a new or changed headache;
    on order hooks it always keeps an imaging order from being discouraged."""
    counted = safety_conditions(record) if conditions is None else conditions
    history_vs = value_set(ValueSetId.MALIGNANCY_HISTORY)
    red_flags_vs = value_set(ValueSetId.RED_FLAGS)
    label = history_vs.category_label(MALIGNANCY_HISTORY) or MALIGNANCY_HISTORY
    findings: list[Finding] = []
    for condition in counted:
        uncoded = not has_coding_in(condition.codings, _CONDITION_CODE_SYSTEMS)
        status = history_status(condition, today)
        if uncoded or history_vs.contains_any(condition.codings):
            # Z85.- already says "history": the status only qualifies it ("history of malignancy (resolved)").
            findings.extend(
                replace(f, label=f"{f.label} ({status})") if status else f
                for f in safety_findings((condition,), history_vs)
            )
        if not (uncoded or red_flags_vs.contains_any(condition.codings)):
            continue
        if status is None and not _history_worded(condition):
            continue
        findings.extend(
            replace(finding, category=MALIGNANCY_HISTORY, label=f"{label} ({status})" if status else label, tier=None)
            for finding in safety_findings((condition,), red_flags_vs)
            if finding.category == MALIGNANCY
        )
    active = [c for c in counted if is_active(c, today)]
    findings.extend(safety_findings(active, value_set(ValueSetId.IMMUNOSUPPRESSION)))
    return _unique(findings)


def red_flags(
    record: PatientRecord,
    today: date,
    thresholds: PathwayThresholds,
    onset_: Onset,
    pregnancy_: Pregnancy,
    trauma: tuple[Finding, ...],
    history: tuple[Finding, ...] = (),
    conditions: Sequence[ConditionFacts] | None = None,
) -> tuple[Finding, ...]:
    """Red flags for imaging / secondary headache, each with its time window (revision-2 C08, SNNOOP10):

    - any time while active: the red-flags value set (infection, papilloedema, Horner, active or metastatic
      malignancy, deficit, myelopathy, ...);
    - dated within 12 months whatever the clinical status (undated: while active): red-flags-recent (arterial
      events, SAH, thunderclap headache; fever only while active);
    - within the trauma window: ``trauma`` (neck trauma, head injury, concussion);
    - only with a new or changed headache or neck pain: ``history`` (malignancy history, immunosuppression);
    - derived: a new onset past ``new_onset_age``; pregnancy with a new onset.

    An order is never a red flag by itself (revision-2 C07); SIH / orthostatic headache route to the differential
    card instead.
    """
    # A Condition known only by a name worded as history ("History of stroke") is no current red flag.
    safe = safety_conditions(record) if conditions is None else conditions
    counted = [c for c in safe if not _history_worded(c)]
    active = [c for c in counted if is_active(c, today)]
    findings = safety_findings(active, value_set(ValueSetId.RED_FLAGS))
    start = months_before(today, RECENT_MONTHS)
    active_refs = {c.ref for c in active}
    findings.extend(
        finding
        for finding in safety_findings(
            (c for c in counted if _dated_within(c, start, today)), value_set(ValueSetId.RED_FLAGS_RECENT)
        )
        if finding.category not in _ACTIVE_ONLY_RECENT or finding.ref in active_refs
    )
    findings.extend(trauma)
    if history and new_or_changed_headache(record, today):
        findings.extend(history)
    if (
        onset_.new
        and onset_.condition is not None
        and onset_.age_at_onset is not None
        and onset_.age_at_onset > thresholds.new_onset_age
    ):
        findings.append(
            Finding(
                NEW_ONSET_OLDER_ADULT,
                f"new headache after age {thresholds.new_onset_age}",
                onset_.condition.ref,
                resource_label(onset_.condition.codings, onset_.condition.text),
                onset_.when,
            )
        )
    if (pregnancy_.pregnant or pregnancy_.puerperium) and onset_.new and onset_.condition is not None:
        findings.append(
            Finding(
                PREGNANCY_NEW_HEADACHE,
                "new headache in pregnancy" if pregnancy_.pregnant else "new headache in the puerperium",
                onset_.condition.ref,
                resource_label(onset_.condition.codings, onset_.condition.text),
                onset_.when,
            )
        )
    return _unique(findings)


def vascular_workup(
    record: PatientRecord, drafts: Iterable[DraftOrder], today: date
) -> tuple[Finding, ...]:
    """CTA/MRA of head or neck drafted, or ordered in the last 30 days with no result yet (still active, draft or
    on hold; undated: counted): a dissection work-up is in progress (revision-2 C07)."""
    vascular_vs = value_set(ValueSetId.NEUROVASCULAR_IMAGING)
    label = "dissection work-up in progress (vascular imaging ordered, no result yet)"
    start = days_before(today, WORKUP_DAYS)
    findings = [
        Finding(DISSECTION_WORKUP, label, d.ref, d.label, d.authored, ABSOLUTE_TIER)
        for d in drafts
        if OrderKind.VASCULAR_IMAGING in d.kinds
    ]
    findings.extend(
        Finding(DISSECTION_WORKUP, label, r.ref, resource_label(r.codings, r.text), r.authored, ABSOLUTE_TIER)
        for r in record.service_requests
        if _status(r.status) in CURRENT_REQUEST
        and (r.authored is None or r.authored >= start)
        and vascular_vs.contains_any(r.codings)
    )
    return _unique(findings)


ABSOLUTE_TIER = "absolute"


def manipulation_contraindications(
    record: PatientRecord,
    today: date,
    trauma: tuple[Finding, ...],
    anticoagulated: tuple[Finding, ...],
    workup: tuple[Finding, ...] = (),
    conditions: Sequence[ConditionFacts] | None = None,
) -> tuple[Finding, ...]:
    """Contraindications by tier (docs/clinical/reference.md §2.6, revision-2 C05/C06/C07):

    active Conditions of manipulation-contraindications; Conditions of manipulation-history-contraindications
    whatever their clinical status (the label names it: "history of …, resolved 2023"); Z98.1 only with cervical
    text; dizziness dated within 12 months; recent neck trauma (absolute); anticoagulation (relative); a
    vascular work-up in progress (absolute).
    """
    counted = safety_conditions(record) if conditions is None else conditions
    active = [c for c in counted if is_active(c, today)]
    findings = safety_findings(active, value_set(ValueSetId.MANIPULATION_CONTRAINDICATIONS))
    history_vs = value_set(ValueSetId.MANIPULATION_HISTORY_CONTRAINDICATIONS)
    arthrodesis_vs = value_set(ValueSetId.ARTHRODESIS_STATUS)
    for condition in counted:
        uncoded = not has_coding_in(condition.codings, _CONDITION_CODE_SYSTEMS)
        if uncoded or history_vs.contains_any(condition.codings):
            findings.extend(_as_history(f, condition, today) for f in safety_findings((condition,), history_vs))
        if arthrodesis_vs.contains_any(condition.codings) and _CERVICAL.search(
            " ".join(text for text in _condition_texts(condition) if text)
        ):
            findings.extend(_as_history(f, condition, today) for f in safety_findings((condition,), arthrodesis_vs))
    start = months_before(today, RECENT_MONTHS)
    findings.extend(
        safety_findings((c for c in counted if _dated_within(c, start, today)), value_set(ValueSetId.DIZZINESS))
    )
    findings.extend(
        Finding(f.category, f.label, f.ref, f.display, f.when, ABSOLUTE_TIER, f.matched_by_name)
        for f in trauma
        if f.category != HEAD_INJURY
    )
    findings.extend(anticoagulated)
    findings.extend(workup)
    return _unique(findings)


_DIFFERENTIAL_SETS = (
    ValueSetId.DIFFERENTIAL_SIH,
    ValueSetId.DIFFERENTIAL_MEDICATION_OVERUSE,
    ValueSetId.DIFFERENTIAL_MIGRAINE,
    ValueSetId.DIFFERENTIAL_TENSION_TYPE,
    ValueSetId.DIFFERENTIAL_POTS,
    ValueSetId.DIFFERENTIAL_ORTHOSTATIC_HYPOTENSION,
)
#: Category codes of the differential value sets that change the card (notes ``orthostatic``, ``migraine``).
SIH = "sih"
MIGRAINE = "migraine"
MEDICATION_OVERUSE = "medication-overuse"


def differentials(record: PatientRecord, today: date) -> tuple[Finding, ...]:
    """Active competing diagnoses (docs/clinical/reference.md §1.9, R3; revision-2 C13, C14), in a stable order (SIH,
    medication overuse, migraine, tension-type, POTS, orthostatic hypotension)."""
    active = [c for c in record.conditions if is_active(c, today)]
    findings: list[Finding] = []
    for vs_id in _DIFFERENTIAL_SETS:
        findings.extend(_condition_findings(active, value_set(vs_id)))
    return _unique(findings)


#: Order reasons that keep a toxin order a CGH escalation (revision-2 C18).
_CGH_REASON_SETS = (
    ValueSetId.CGH_DX_SPECIFIC,
    ValueSetId.CGH_DX_LEGACY,
    ValueSetId.HEADACHE_SYMPTOMS,
    ValueSetId.CERVICAL_DISORDERS,
)


def _order_reasons(order: OrderFacts, conditions: dict[str, ConditionFacts]) -> tuple[Coding, ...]:
    """The coded reasons of a drafted order: ``reasonCode`` and the counted Conditions it references.

    Only ServiceRequests carry reasons in the record so far; a MedicationRequest has none.
    """
    if not isinstance(order, ServiceRequestFacts):
        return ()
    referenced = (conditions[ref] for ref in order.reason_refs if ref in conditions)
    return order.reason_codings + tuple(coding for c in referenced if is_counted(c) for coding in c.codings)


def toxin_orders_not_for_cgh(
    record: PatientRecord, drafts: Iterable[DraftOrder], today: date, cgh_confirmed: bool
) -> frozenset[str]:
    """Drafted botulinum toxin orders that are not a CGH escalation (revision-2 C18; PREEMPT: toxin is
    indicated for chronic migraine): a coded reason none of which is CGH, headache or a cervical disorder
    (chronic migraine, dystonia, spasticity, cosmetic, ...), or any toxin order while chronic migraine is
    active and CGH is not confirmed. Free-text reasons do not count: they never lift a warning.
    """
    toxins = {draft.ref for draft in drafts if OrderKind.TOXIN in draft.kinds}
    if not toxins:
        return frozenset()
    chronic_migraine = value_set(ValueSetId.CHRONIC_MIGRAINE)
    if not cgh_confirmed and any(
        is_active(c, today) and chronic_migraine.contains_any(c.codings) for c in record.conditions
    ):
        return frozenset(toxins)
    conditions = {condition.ref: condition for condition in record.conditions}
    cgh_sets = [value_set(vs_id) for vs_id in _CGH_REASON_SETS]
    result = set()
    for order in record.draft_orders:
        if order.ref not in toxins:
            continue
        reasons = _order_reasons(order, conditions)
        if reasons and not any(vs.contains_any(reasons) for vs in cgh_sets):
            result.add(order.ref)
    return frozenset(result)


# ------------------------------------------------------------------------------------------------ all facts


@dataclass(frozen=True, slots=True)
class Facts:
    """Every derived fact of one evaluation, computed once by :func:`derive_facts`."""

    today: date
    moment: Moment
    thresholds: PathwayThresholds
    patient_ref: str | None
    deceased: bool
    age: int | None
    diagnosis: Diagnosis
    onset: Onset
    pt: PtTrial
    outcome: Outcome
    steps: Steps
    diagnostic_blocks: DiagnosticBlocks
    pregnancy: Pregnancy
    red_flags: tuple[Finding, ...]
    #: History of malignancy / immunosuppression whatever the dates: never lets imaging be discouraged (C08).
    imaging_history: tuple[Finding, ...]
    contraindications: tuple[Finding, ...]
    anticoagulation: tuple[Finding, ...]
    differentials: tuple[Finding, ...]
    orders: tuple[DraftOrder, ...]
    #: Drafted toxin orders for another condition: no CGH escalation (revision-2 C18).
    not_for_cgh: frozenset[str] = frozenset()

    @property
    def judged_orders(self) -> tuple[DraftOrder, ...]:
        return tuple(order for order in self.orders if order.judged)

    def judged(self, *kinds: OrderKind) -> tuple[DraftOrder, ...]:
        """Judged orders of any of ``kinds``."""
        wanted = frozenset(kinds)
        return tuple(order for order in self.orders if order.judged and order.kinds & wanted)

    def judged_escalations(self, *kinds: OrderKind) -> tuple[DraftOrder, ...]:
        """Judged orders of any of ``kinds`` that escalate CGH treatment (not toxin for another condition)."""
        return tuple(order for order in self.judged(*kinds) if order.ref not in self.not_for_cgh)

    @property
    def pediatric(self) -> bool:
        """Younger than 18: outside the adult pathway (docs/clinical/reference.md §2.4)."""
        return self.age is not None and self.age < 18

    @property
    def confirmed_for_step4(self) -> bool:
        """A confirmed G44.86, or >= 80 % relief on controlled cervical medial branch blocks (revision-2 C16)."""
        return self.diagnosis.confirmed or self.diagnostic_blocks.confirms

    @property
    def pt_planned(self) -> bool:
        """PT in the look-back (a course, or a completed referral: revision-2 C3), an active PT referral, or a
        PT order among the drafts. Sessions for another region do not count (revision-2 C2)."""
        return bool(
            self.pt.session_dates
            or self.pt.referral
            or self.pt.completed_referrals
            or any(OrderKind.PT in order.kinds for order in self.orders)
        )


def derive_facts(
    record: PatientRecord, moment: Moment, today: date, thresholds: PathwayThresholds | None = None
) -> Facts:
    """All facts of docs/clinical/reference.md §2.2 for ``record`` at ``moment`` on ``today``."""
    limits = thresholds if thresholds is not None else PathwayThresholds()
    drafts = draft_orders(record, moment, limits)
    onset_ = onset(record, today, limits)
    pt = pt_trial(record, today, limits)
    steps_ = steps(record, today, limits)
    diagnosis_ = diagnosis(record, today)
    blocks = diagnostic_blocks(record, today, limits)
    pregnancy_ = pregnancy(record, today, limits)
    trauma = recent_trauma(record, today, limits)
    anticoagulated = anticoagulation(record, drafts, today)
    safe = safety_conditions(record)
    history = imaging_history(record, today, safe)
    return Facts(
        today=today,
        moment=moment,
        thresholds=limits,
        patient_ref=record.patient.ref if record.patient is not None else None,
        deceased=is_deceased(record),
        age=age(record, today),
        diagnosis=diagnosis_,
        onset=onset_,
        pt=pt,
        outcome=outcome(record, pt, today, limits),
        steps=steps_,
        diagnostic_blocks=blocks,
        pregnancy=pregnancy_,
        red_flags=red_flags(record, today, limits, onset_, pregnancy_, trauma, history, safe),
        imaging_history=history,
        contraindications=manipulation_contraindications(
            record, today, trauma, anticoagulated, vascular_workup(record, drafts, today), safe
        ),
        anticoagulation=anticoagulated,
        differentials=differentials(record, today),
        orders=drafts,
        not_for_cgh=toxin_orders_not_for_cgh(record, drafts, today, diagnosis_.confirmed or blocks.confirms),
    )
