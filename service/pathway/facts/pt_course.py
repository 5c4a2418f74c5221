"""The PT course and trial: sessions, visits, referrals and whether the trial was adequate (revision-2 C1-C3)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from service.fhir.coding import Coding
from service.fhir.record import EncounterFacts
from service.fhir.record import PatientRecord
from service.fhir.record import ProcedureFacts
from service.fhir.record import ServiceRequestFacts
from service.pathway.facts.dates import months_before
from service.pathway.facts.pt_regions import PtRegion
from service.pathway.facts.pt_regions import _combined
from service.pathway.facts.pt_regions import _Regions
from service.pathway.facts.pt_regions import _request_date
from service.pathway.facts.pt_regions import is_pt_referral
from service.pathway.facts.status import COMPLETED
from service.pathway.facts.status import FINISHED
from service.pathway.facts.status import _status
from service.pathway.facts.status import is_completed
from service.pathway.terminology import ValueSetId
from service.pathway.terminology import value_set
from service.pathway.thresholds import PathwayThresholds

#: revision-2 C3: an Encounter is a PT visit when its type or serviceType names physical therapy (beside the
#: PT codes of pt-exercise, e.g. SNOMED 91251008). Words, not codes: "physical therap(y|ist)", "physiotherap...".
_PT_SERVICE_TEXT = re.compile(r"physical\s+therap|physiotherap", re.IGNORECASE)


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
