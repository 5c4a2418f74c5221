"""Derived facts of the pathway (reference.md §2.2): pure functions of a record, the moment and today.

Each fact is its own small function so it can be tested at its edges; :func:`derive_facts` computes them all
once per evaluation into one frozen :class:`Facts`, which the rules read. Clinical codes come only from the
value sets (:mod:`service.pathway.terminology`). Nothing here raises on odd data: missing dates, unknown
statuses and empty codings simply make a fact false or unknown.
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from datetime import timedelta
from enum import StrEnum
from functools import lru_cache

from service.fhir.coding import ICD10
from service.fhir.coding import ICD10CM
from service.fhir.coding import Coding
from service.fhir.record import ConditionFacts
from service.fhir.record import MedicationRequestFacts
from service.fhir.record import ObservationFacts
from service.fhir.record import OrderFacts
from service.fhir.record import PatientRecord
from service.fhir.record import ProcedureFacts
from service.fhir.record import ServiceRequestFacts
from service.pathway.advice import Moment
from service.pathway.terminology import ValueSet
from service.pathway.terminology import ValueSetId
from service.pathway.terminology import value_set
from service.pathway.thresholds import PathwayThresholds

#: Condition.clinicalStatus codes that count as active (FHIR R4 condition-clinical).
ACTIVE_CLINICAL = frozenset({"active", "recurrence", "relapse"})
#: Condition.verificationStatus codes that are ignored entirely (reference.md §2.1).
IGNORED_VERIFICATION = frozenset({"refuted", "entered-in-error"})
#: verificationStatus codes that make a specific CGH code "suspected" (None: absent, §2.2 (a)).
SUSPECTED_VERIFICATION = frozenset({"provisional", "differential", "unconfirmed"})
CONFIRMED = "confirmed"
COMPLETED = "completed"
#: Observation statuses whose values are not used.
IGNORED_OBSERVATION = frozenset({"entered-in-error", "cancelled", "registered"})
#: ServiceRequest statuses that make a request current (a PT referral in place, a vascular study pending).
CURRENT_REQUEST = frozenset({"active", "draft", "on-hold"})
ACTIVE_MEDICATION = frozenset({"active"})

#: Free-text markers (not codes) for the manipulation gate on PT orders (reference.md §1.4: 97140 cannot tell
#: thrust from mobilisation; treat as manipulation only when the text documents a cervical thrust).
_THRUST = re.compile(r"\b(?:thrust|hvla|high[- ]velocity)\b", re.IGNORECASE)
_CERVICAL = re.compile(r"\b(?:cervical|neck|c[0-7](?:[-/]c?[0-7])?)\b", re.IGNORECASE)
#: A 64450 "other peripheral nerve" block is a GON block when its body site or text says occipital.
_OCCIPITAL = re.compile(r"occipital", re.IGNORECASE)
#: "85% relief", "relief of 80 %" in a block's outcome text (diagnostic_block_positive).
_PERCENT = re.compile(r"(\d{1,3}(?:\.\d+)?)\s*%")
_RELIEF = re.compile(r"relie[fv]|improv|reduc", re.IGNORECASE)


class DiagnosisStatus(StrEnum):
    CONFIRMED = "confirmed"
    SUSPECTED = "suspected"


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
    """Age in completed years at ``today`` (reference.md §2.2 ``age``); ``None`` without a birth date."""
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
    """Not refuted nor entered-in-error (reference.md §2.1: those are ignored)."""
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
    """CGH status (reference.md §2.2 ``cgh_confirmed`` / ``cgh_suspected``)."""

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
    """Confirmed / suspected CGH from the active, counted Conditions (reference.md §2.2).

    Confirmed: G44.86 (cgh-dx-specific) with verificationStatus confirmed. Suspected: (a) a specific code
    that is provisional, differential, unconfirmed or has no verificationStatus; (b) a legacy code (G44.89,
    M53.0) whatever its verification; (c) a headache Condition plus a cervical-disorder Condition.
    """
    specific = value_set(ValueSetId.CGH_DX_SPECIFIC)
    legacy = value_set(ValueSetId.CGH_DX_LEGACY)
    headache = value_set(ValueSetId.HEADACHE_SYMPTOMS)
    cervical_vs = value_set(ValueSetId.CERVICAL_DISORDERS)
    active = [c for c in record.conditions if is_active(c, today)]
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
class Onset:
    """When the CGH / headache began (reference.md §2.2 ``cgh_onset``, ``new_onset``)."""

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


@dataclass(frozen=True, slots=True)
class PtTrial:
    """The current PT trial (reference.md §2.2 pt_sessions, pt_first, pt_weeks, adequate_pt_trial)."""

    session_dates: tuple[date, ...]
    first: date | None
    weeks: int
    adequate: bool
    #: Completed PT procedures in the look-back (trigger role ``pt-session``).
    procedures: tuple[ProcedureFacts, ...]
    #: An active PT referral (ServiceRequest) in the record.
    referral: tuple[ServiceRequestFacts, ...]

    @property
    def sessions(self) -> int:
        return len(self.session_dates)


def pt_trial(record: PatientRecord, today: date, thresholds: PathwayThresholds) -> PtTrial:
    """PT session-dates in the look-back: distinct dates of completed PT procedures, not billing lines.

    The PT re-evaluation (pt-reevaluation, 97164) counts toward the start date but not toward sessions.
    Procedures without a date, in the future, or older than ``pt_lookback_months`` are not counted.
    """
    sessions_vs = value_set(ValueSetId.PT_EXERCISE)
    reeval_vs = value_set(ValueSetId.PT_REEVALUATION)
    start = months_before(today, thresholds.pt_lookback_months)
    session_dates: set[date] = set()
    all_dates: set[date] = set()
    counted: list[ProcedureFacts] = []
    for procedure in record.procedures:
        when = procedure.performed
        if not is_completed(procedure) or when is None or not start <= when <= today:
            continue
        is_session = sessions_vs.contains_any(procedure.codings)
        if is_session or reeval_vs.contains_any(procedure.codings):
            counted.append(procedure)
            all_dates.add(when)
            if is_session:
                session_dates.add(when)
    first = min(all_dates) if all_dates else None
    weeks = (today - first).days // 7 if first is not None else 0
    sessions = len(session_dates)
    adequate = (weeks >= thresholds.pt_min_weeks and sessions >= thresholds.pt_min_sessions) or (
        sessions >= thresholds.pt_alt_sessions
    )
    referral = tuple(
        request
        for request in record.service_requests
        if _status(request.status) == "active" and sessions_vs.contains_any(request.codings)
    )
    return PtTrial(tuple(sorted(session_dates)), first, weeks, adequate, tuple(counted), referral)


def _text_of(procedure: ProcedureFacts) -> str:
    parts = [procedure.text or "", *procedure.notes]
    parts.extend(coding.display or "" for coding in procedure.body_site)
    parts.extend(coding.display or "" for coding in procedure.outcome)
    return " ".join(parts)


def is_gon_block(codings: Iterable[Coding], text: str) -> bool:
    """64405, or a 64450 peripheral nerve block whose body site or text says occipital (reference.md §2.2)."""
    listed = tuple(codings)
    if value_set(ValueSetId.GON_BLOCK).contains_any(listed):
        return True
    return value_set(ValueSetId.PERIPHERAL_NERVE_BLOCK).contains_any(listed) and bool(_OCCIPITAL.search(text))


@dataclass(frozen=True, slots=True)
class Steps:
    """Completed interventional steps (reference.md §2.2 ``step2_done``, ``step3_done``)."""

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


def steps(record: PatientRecord, today: date) -> Steps:
    """Completed (not future-dated) GON blocks, percutaneous and refractory procedures (incl. toxin)."""
    percutaneous_vs = value_set(ValueSetId.PERCUTANEOUS)
    refractory_vs = value_set(ValueSetId.REFRACTORY)
    toxin_vs = value_set(ValueSetId.BOTULINUM_TOXIN)
    gon: list[ProcedureFacts] = []
    percutaneous: list[ProcedureFacts] = []
    refractory: list[ProcedureFacts] = []
    for procedure in record.procedures:
        if not is_completed(procedure) or (procedure.performed is not None and procedure.performed > today):
            continue
        if is_gon_block(procedure.codings, _text_of(procedure)):
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
    """Response to the PT trial (reference.md §2.2 ``inadequate_response``).

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
    """Outcome of the PT trial: an explicit treatment-response Observation at/after ``pt_first`` decides;
    otherwise headache frequency at/after ``pt_first + pt_min_weeks`` against the last baseline before
    ``pt_first`` (same code, so per-month is never compared with per-week): a reduction below
    ``responder_reduction`` is inadequate. No PT start, no baseline, a zero baseline or no follow-up: no data.
    """
    if pt.first is None:
        return NO_OUTCOME
    first = pt.first
    response_vs = value_set(ValueSetId.TREATMENT_RESPONSE_OBSERVATION)
    inadequate_vs = value_set(ValueSetId.RESPONSE_INADEQUATE)
    adequate_vs = value_set(ValueSetId.RESPONSE_ADEQUATE)
    explicit = [
        o
        for o in record.observations
        if _usable(o, today)
        and (o.effective or date.min) >= first
        and response_vs.contains_any(o.codings)
        and (inadequate_vs.contains_any(o.value_codings) or adequate_vs.contains_any(o.value_codings))
    ]
    latest = _latest(explicit)
    if latest is not None:
        inadequate = inadequate_vs.contains_any(latest.value_codings)
        label = "documented inadequate response" if inadequate else "documented adequate response"
        return Outcome(True, inadequate, label, (latest,))
    return _frequency_outcome(record, first, today, thresholds)


def _frequency_outcome(record: PatientRecord, first: date, today: date, thresholds: PathwayThresholds) -> Outcome:
    frequency_vs = value_set(ValueSetId.HEADACHE_FREQUENCY_OBSERVATION)
    follow_up_from = days_after(first, thresholds.pt_min_weeks * 7)
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


def diagnostic_block_positive(
    record: PatientRecord, blocks: Iterable[ProcedureFacts], today: date, thresholds: PathwayThresholds
) -> bool:
    """A GON / medial-branch block with at least ``block_relief_percent`` relief (reference.md §2.2).

    Evidence: a block-relief Observation (valueQuantity in %) or a block-positive value; or a completed block
    whose outcome is coded block-positive or whose outcome/notes text gives a relief percentage.
    """
    relief_vs = value_set(ValueSetId.BLOCK_RELIEF_OBSERVATION)
    positive_vs = value_set(ValueSetId.BLOCK_POSITIVE)
    for observation in record.observations:
        if not _usable(observation, today) or not relief_vs.contains_any(observation.codings):
            continue
        if positive_vs.contains_any(observation.value_codings):
            return True
        if (
            _finite(observation.value_quantity)
            and (observation.value_quantity or 0.0) >= thresholds.block_relief_percent
        ):
            return True
    for block in blocks:
        if positive_vs.contains_any(block.outcome):
            return True
        text = _text_of(block)
        if _RELIEF.search(text) and any(
            float(match) >= thresholds.block_relief_percent for match in _PERCENT.findall(text)
        ):
            return True
    return False


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
)


def _order_text(order: OrderFacts) -> str:
    parts = [order.text or ""]
    if isinstance(order, ServiceRequestFacts):
        parts.extend(order.notes)
        parts.extend(coding.display or "" for coding in order.body_site)
    return " ".join(parts)


def classify_order(order: OrderFacts) -> frozenset[OrderKind]:
    """The kinds of a drafted order, by code; medications also by the ingredient-name fallback.

    A PT order counts as manipulation only when its text documents a cervical thrust (reference.md §1.4).
    """
    kinds: set[OrderKind] = set()
    text = _order_text(order)
    for vs_id, kind in _SERVICE_KINDS:
        if value_set(vs_id).contains_any(order.codings):
            kinds.add(kind)
    if is_gon_block(order.codings, text):
        kinds.add(OrderKind.GON_BLOCK)
    if isinstance(order, MedicationRequestFacts):
        for vs_id, kind in _MEDICATION_KINDS:
            if value_set(vs_id).matches_medication(order.codings, order.text):
                kinds.add(kind)
    if OrderKind.PT in kinds and _THRUST.search(text) and _CERVICAL.search(text):
        kinds.add(OrderKind.MANIPULATION)
    return frozenset(kinds)


def draft_orders(record: PatientRecord, moment: Moment) -> tuple[DraftOrder, ...]:
    """Every draft order, classified and marked judged per ``moment`` (record review judges none)."""
    result = []
    for order in record.draft_orders:
        if moment is Moment.ORDER_SIGN:
            judged = True
        elif moment is Moment.ORDER_SELECT:
            judged = order.ref in record.selections
        else:
            judged = False
        label = resource_label(order.codings, order.text)
        result.append(DraftOrder(order.ref, label, classify_order(order), judged, order.authored))
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
    """Trauma codes within ``trauma_window_weeks`` of today (reference.md §2.2, §2.6).

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
    return _unique(_condition_findings(recent, vs))


@dataclass(frozen=True, slots=True)
class Pregnancy:
    """reference.md §2.2 ``pregnant`` and ``gest_weeks``."""

    pregnant: bool
    gest_weeks: int | None
    evidence: tuple[Finding, ...]


def pregnancy(record: PatientRecord, today: date, thresholds: PathwayThresholds) -> Pregnancy:
    """Pregnant: an active pregnancy Condition (Z33.1, Z3A.*, O*; abated ones excluded), or the latest
    pregnancy-status Observation within ``pregnancy_observation_months`` says pregnant.

    ``gest_weeks``: the latest-dated active Z3A.xx, advanced by the whole weeks since it was recorded.
    """
    pregnancy_vs = value_set(ValueSetId.PREGNANCY)
    weeks_vs = value_set(ValueSetId.GESTATIONAL_AGE)
    active = [c for c in record.conditions if is_active(c, today)]
    evidence = [
        Finding(
            "pregnancy",
            "pregnancy",
            c.ref,
            resource_label(c.codings, c.text, pregnancy_vs.matching(c.codings)),
            condition_date(c),
        )
        for c in active
        if pregnancy_vs.contains_any(c.codings)
    ]
    status_vs = value_set(ValueSetId.PREGNANCY_STATUS_OBSERVATION)
    since = months_before(today, thresholds.pregnancy_observation_months)
    latest = _latest(
        o
        for o in record.observations
        if _usable(o, today) and (o.effective or date.min) >= since and status_vs.contains_any(o.codings)
    )
    if latest is not None and pregnancy_vs.contains_any(latest.value_codings):
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
        for c in active
        for coding in c.codings
        for weeks in [weeks_vs.gestational_weeks(coding)]
        if weeks is not None
    ]
    if staged:
        when, weeks = max(staged, key=lambda item: item[0] or date.min)
        elapsed = (today - when).days // 7 if when is not None and when <= today else 0
        gest_weeks = weeks + elapsed
    return Pregnancy(bool(evidence), gest_weeks, tuple(evidence))


def anticoagulation(record: PatientRecord, drafts: Iterable[DraftOrder], today: date) -> tuple[Finding, ...]:
    """An active (or drafted) anticoagulant MedicationRequest, or active Z79.01 (reference.md §2.2, §2.6)."""
    meds_vs = value_set(ValueSetId.ANTICOAGULANTS)
    status_vs = value_set(ValueSetId.ANTICOAGULATION_STATUS)
    label = "anticoagulation"
    findings = [
        Finding("anticoagulation", label, m.ref, resource_label(m.codings, m.text), m.authored, "relative")
        for m in record.medication_requests
        if _status(m.status) in ACTIVE_MEDICATION and meds_vs.matches_medication(m.codings, m.text)
    ]
    findings.extend(
        Finding("anticoagulation", label, d.ref, d.label, d.authored, "relative")
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
DISSECTION_CONCERN = "dissection-concern"
TRAUMA = "trauma"


def red_flags(
    record: PatientRecord,
    today: date,
    thresholds: PathwayThresholds,
    onset_: Onset,
    pregnancy_: Pregnancy,
    trauma: tuple[Finding, ...],
    drafts: Iterable[DraftOrder],
) -> tuple[Finding, ...]:
    """Red flags (reference.md §2.2 ``red_flags``, §1.5 note):

    active Conditions in red-flags or immunosuppression; trauma within the window; a new onset past
    ``new_onset_age``; pregnancy with a new onset; vascular imaging (CTA/MRA) drafted or pending, which means
    the clinician suspects dissection. SIH / orthostatic headache route to the differential card instead.
    """
    active = [c for c in record.conditions if is_active(c, today)]
    findings = _condition_findings(active, value_set(ValueSetId.RED_FLAGS))
    findings.extend(_condition_findings(active, value_set(ValueSetId.IMMUNOSUPPRESSION)))
    findings.extend(trauma)
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
    if pregnancy_.pregnant and onset_.new and onset_.condition is not None:
        findings.append(
            Finding(
                PREGNANCY_NEW_HEADACHE,
                "new headache in pregnancy",
                onset_.condition.ref,
                resource_label(onset_.condition.codings, onset_.condition.text),
                onset_.when,
            )
        )
    vascular_vs = value_set(ValueSetId.NEUROVASCULAR_IMAGING)
    label = "vascular imaging ordered (dissection suspected)"
    findings.extend(
        Finding(DISSECTION_CONCERN, label, d.ref, d.label, d.authored)
        for d in drafts
        if OrderKind.VASCULAR_IMAGING in d.kinds
    )
    findings.extend(
        Finding(DISSECTION_CONCERN, label, r.ref, resource_label(r.codings, r.text), r.authored)
        for r in record.service_requests
        if _status(r.status) in CURRENT_REQUEST and vascular_vs.contains_any(r.codings)
    )
    return _unique(findings)


def manipulation_contraindications(
    record: PatientRecord, today: date, trauma: tuple[Finding, ...], anticoagulated: tuple[Finding, ...]
) -> tuple[Finding, ...]:
    """Contraindications by tier (reference.md §2.6): coded Conditions (each include of the value set names
    its tier), recent trauma (absolute), anticoagulation (relative)."""
    active = [c for c in record.conditions if is_active(c, today)]
    findings = _condition_findings(active, value_set(ValueSetId.MANIPULATION_CONTRAINDICATIONS))
    findings.extend(Finding(f.category, f.label, f.ref, f.display, f.when, "absolute") for f in trauma)
    findings.extend(anticoagulated)
    return _unique(findings)


_DIFFERENTIAL_SETS = (
    ValueSetId.DIFFERENTIAL_SIH,
    ValueSetId.DIFFERENTIAL_MIGRAINE,
    ValueSetId.DIFFERENTIAL_TENSION_TYPE,
    ValueSetId.DIFFERENTIAL_POTS,
    ValueSetId.DIFFERENTIAL_ORTHOSTATIC_HYPOTENSION,
)
#: Category codes of the differential value sets that change the card (notes ``orthostatic``, ``migraine``).
SIH = "sih"
MIGRAINE = "migraine"


def differentials(record: PatientRecord, today: date) -> tuple[Finding, ...]:
    """Active competing diagnoses (reference.md §1.9, R3), in a stable order (SIH first)."""
    active = [c for c in record.conditions if is_active(c, today)]
    findings: list[Finding] = []
    for vs_id in _DIFFERENTIAL_SETS:
        findings.extend(_condition_findings(active, value_set(vs_id)))
    return _unique(findings)


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
    diagnostic_block_positive: bool
    pregnancy: Pregnancy
    red_flags: tuple[Finding, ...]
    contraindications: tuple[Finding, ...]
    anticoagulation: tuple[Finding, ...]
    differentials: tuple[Finding, ...]
    orders: tuple[DraftOrder, ...]

    @property
    def judged_orders(self) -> tuple[DraftOrder, ...]:
        return tuple(order for order in self.orders if order.judged)

    def judged(self, *kinds: OrderKind) -> tuple[DraftOrder, ...]:
        """Judged orders of any of ``kinds``."""
        wanted = frozenset(kinds)
        return tuple(order for order in self.orders if order.judged and order.kinds & wanted)

    @property
    def pediatric(self) -> bool:
        return self.age is not None and self.age < 18

    @property
    def confirmed_for_step4(self) -> bool:
        """Confirmed, or promoted by a positive diagnostic block (ICHD-3 criterion C4)."""
        return self.diagnosis.confirmed or self.diagnostic_block_positive

    @property
    def pt_planned(self) -> bool:
        """PT in the look-back, an active PT referral, or a PT order among the drafts."""
        return bool(
            self.pt.session_dates or self.pt.referral or any(OrderKind.PT in order.kinds for order in self.orders)
        )


#: Patients younger than this are outside the adult pathway (reference.md §2.4).
ADULT_AGE = 18


def derive_facts(
    record: PatientRecord, moment: Moment, today: date, thresholds: PathwayThresholds | None = None
) -> Facts:
    """All facts of reference.md §2.2 for ``record`` at ``moment`` on ``today``."""
    limits = thresholds if thresholds is not None else PathwayThresholds()
    drafts = draft_orders(record, moment)
    onset_ = onset(record, today, limits)
    pt = pt_trial(record, today, limits)
    steps_ = steps(record, today)
    pregnancy_ = pregnancy(record, today, limits)
    trauma = recent_trauma(record, today, limits)
    anticoagulated = anticoagulation(record, drafts, today)
    blocks = steps_.gon_blocks + steps_.percutaneous
    return Facts(
        today=today,
        moment=moment,
        thresholds=limits,
        patient_ref=record.patient.ref if record.patient is not None else None,
        deceased=is_deceased(record),
        age=age(record, today),
        diagnosis=diagnosis(record, today),
        onset=onset_,
        pt=pt,
        outcome=outcome(record, pt, today, limits),
        steps=steps_,
        diagnostic_block_positive=diagnostic_block_positive(record, blocks, today, limits),
        pregnancy=pregnancy_,
        red_flags=red_flags(record, today, limits, onset_, pregnancy_, trauma, drafts),
        contraindications=manipulation_contraindications(record, today, trauma, anticoagulated),
        anticoagulation=anticoagulated,
        differentials=differentials(record, today),
        orders=drafts,
    )
