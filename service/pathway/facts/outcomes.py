"""The response to the PT trial: an explicit treatment response or the change in headache frequency."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from service.fhir.record import ObservationFacts
from service.fhir.record import PatientRecord
from service.pathway.facts.dates import days_after
from service.pathway.facts.dates import months_before
from service.pathway.facts.observations import _finite
from service.pathway.facts.observations import _latest
from service.pathway.facts.observations import _usable
from service.pathway.facts.pt_course import PtTrial
from service.pathway.terminology import ValueSetId
from service.pathway.terminology import value_set
from service.pathway.thresholds import PathwayThresholds


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
