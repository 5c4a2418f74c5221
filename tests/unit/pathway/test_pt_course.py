"""The PT course of revision 2: trial length (C1), documented region (C2), PT recorded as Encounters and
completed referrals (C3). Facts and the cards they lead to, today 2025-06-01."""

from __future__ import annotations

from datetime import date
from datetime import timedelta

import pytest

from service.fhir.coding import ICD10CM
from service.fhir.coding import normalise
from service.pathway import Moment
from service.pathway import evaluate
from service.pathway.facts import PtRegion
from service.pathway.facts import pt_trial
from service.pathway.facts import text_region
from service.pathway.thresholds import PathwayThresholds
from tests.unit.pathway.builders import CERVICALGIA
from tests.unit.pathway.builders import GON_BLOCK
from tests.unit.pathway.builders import PT_EXERCISE
from tests.unit.pathway.builders import PT_MANUAL
from tests.unit.pathway.builders import PT_REFERRAL
from tests.unit.pathway.builders import TODAY
from tests.unit.pathway.builders import by_id
from tests.unit.pathway.builders import cgh
from tests.unit.pathway.builders import condition
from tests.unit.pathway.builders import days_ago
from tests.unit.pathway.builders import headache_days
from tests.unit.pathway.builders import procedure
from tests.unit.pathway.builders import pt_course
from tests.unit.pathway.builders import pt_visit
from tests.unit.pathway.builders import record
from tests.unit.pathway.builders import service_request
from tests.unit.pathway.builders import weeks_ago

LIMITS = PathwayThresholds()
_KNEE_OA = normalise(ICD10CM, "M17.11", "Unilateral primary osteoarthritis, right knee")
assert _KNEE_OA is not None
#: A reason of another region (test data: in no value set).
KNEE_OA = _KNEE_OA
#: Eight weekly sessions, 10 to 3 weeks ago: 8 weeks of treatment.
EIGHT_WEEKS = [weeks_ago(10 - week) for week in range(8)]


def _failed() -> tuple[object, ...]:
    """Baseline 12 headache days a month before PT, 10 after 8 weeks: an inadequate response."""
    return (headache_days(weeks_ago(11), 12), headache_days(days_ago(1), 10))


def _review(*, procedures: object = (), encounters: object = (), service_requests: object = ()) -> dict[str, object]:
    r = record(
        cgh(),
        procedures=procedures,  # type: ignore[arg-type]
        encounters=encounters,  # type: ignore[arg-type]
        service_requests=service_requests,  # type: ignore[arg-type]
        observations=_failed(),  # type: ignore[arg-type]
    )
    return by_id(evaluate(r, Moment.RECORD_REVIEW, TODAY))


# ------------------------------------------------------------------------------------------------ C1


@pytest.mark.parametrize(("span_days", "adequate"), [(48, False), (49, True)])
def test_adequacy_is_six_dates_over_forty_nine_days(span_days: int, adequate: bool) -> None:
    first = days_ago(60)
    dates = [first + timedelta(days=round(i * span_days / 5)) for i in range(6)]
    trial = pt_trial(record(procedures=pt_course(dates)), TODAY, LIMITS)
    assert (trial.sessions, trial.adequate, trial.weeks) == (6, adequate, 8 if adequate else 7)


def test_twelve_sessions_in_three_weeks_is_not_an_adequate_trial() -> None:
    twelve = [days_ago(25 - 2 * index) for index in range(12)]
    trial = pt_trial(record(procedures=pt_course(twelve)), TODAY, LIMITS)
    assert (trial.sessions, trial.weeks, trial.adequate) == (12, 4, False)
    assert "escalate-occipital-nerve-block" not in _review(procedures=pt_course(twelve))


def test_weeks_on_cards_are_the_span_of_treatment_not_up_to_today() -> None:
    old_course = [days_ago(300 - 7 * week) for week in range(4)]  # 4 weekly sessions ten months ago
    item = _review(procedures=pt_course(old_course))["pt-trial-in-progress"]
    assert item.facts["pt_weeks"] == "4"
    assert item.facts["pt_last"] == days_ago(279).isoformat()


@pytest.mark.parametrize(("last_days_ago", "stopped"), [(27, False), (28, True)])
def test_a_course_without_a_session_for_four_weeks_is_stopped(last_days_ago: int, stopped: bool) -> None:
    dates = [days_ago(last_days_ago + 7 * week) for week in range(3)]
    item = _review(procedures=pt_course(dates))["pt-trial-in-progress"]
    assert ("stopped" in item.notes) is stopped


def test_an_adequate_course_is_never_stopped() -> None:
    dates = [days_ago(200 - 7 * week) for week in range(8)]
    assert not pt_trial(record(procedures=pt_course(dates)), TODAY, LIMITS).stopped


def test_exercise_not_documented_when_no_session_carries_an_exercise_code() -> None:
    manual_only = pt_course(EIGHT_WEEKS, (PT_MANUAL,))
    trial = pt_trial(record(procedures=manual_only), TODAY, LIMITS)
    assert trial.adequate and not trial.exercise_documented  # no exercise code is required
    item = _review(procedures=manual_only)["escalate-occipital-nerve-block"]
    assert item.notes == ("exercise-not-documented",)
    with_exercise = _review(procedures=pt_course(EIGHT_WEEKS, (PT_MANUAL, PT_EXERCISE)))
    assert with_exercise["escalate-occipital-nerve-block"].notes == ()


# ------------------------------------------------------------------------------------------------ C2


@pytest.mark.parametrize(
    ("texts", "region"),
    [
        (["Neck"], PtRegion.HEAD_NECK),
        (["Cervical spine structure"], PtRegion.HEAD_NECK),
        (["lower back and neck"], PtRegion.HEAD_NECK),
        (["Back pain"], PtRegion.OTHER),
        (["pain at the back of the head"], PtRegion.HEAD_NECK),
        (["Both knees (body structure)"], PtRegion.OTHER),
        (["Lumbar spine"], PtRegion.OTHER),
        (["fracture of neck of femur"], PtRegion.OTHER),
        (["Left femoral neck"], PtRegion.OTHER),
        (["Physical therapy procedure"], PtRegion.UNDOCUMENTED),
        ([None, ""], PtRegion.UNDOCUMENTED),
        (["headneck"], PtRegion.UNDOCUMENTED),
    ],
)
def test_region_in_words(texts: list[str | None], region: PtRegion) -> None:
    assert text_region(texts) is region


def test_lumbar_only_pt_does_not_count() -> None:
    lumbar = pt_course(EIGHT_WEEKS, region="Lumbar spine")
    trial = pt_trial(record(procedures=lumbar), TODAY, LIMITS)
    assert (trial.sessions, trial.adequate, trial.other_region) == (0, False, True)
    advice = _review(procedures=lumbar)
    assert "pt-first-line" in advice and advice["pt-first-line"].notes == ("other-region",)
    assert not {"escalate-occipital-nerve-block", "pt-trial-in-progress", "pt-document-response"} & set(advice)


def test_a_knee_referral_course_never_counts() -> None:
    knee = service_request(PT_REFERRAL, status="completed", reason_codings=[KNEE_OA], authored=weeks_ago(11))
    course = [procedure(PT_EXERCISE, day, based_on=[knee.ref]) for day in EIGHT_WEEKS]
    advice = _review(procedures=course, service_requests=[knee])
    assert "pt-first-line" in advice
    assert not {"escalate-occipital-nerve-block", "pt-document-response"} & set(advice)


def test_pt_with_no_documented_region_suppresses_pt_first_line_but_never_escalates() -> None:
    undocumented = pt_course(EIGHT_WEEKS, region=None)
    trial = pt_trial(record(procedures=undocumented), TODAY, LIMITS)
    assert (trial.course_adequate, trial.adequate, len(trial.undocumented_dates)) == (True, False, 8)
    advice = _review(procedures=undocumented)
    assert not {"pt-first-line", "escalate-occipital-nerve-block"} & set(advice)
    assert advice["pt-document-response"].notes == ("region-not-documented",)
    order = record(cgh(), procedures=undocumented, observations=_failed(), drafts=[service_request(GON_BLOCK)])
    premature = by_id(evaluate(order, Moment.ORDER_SIGN, TODAY))["escalation-premature"]
    assert "region of the PT course not documented" in premature.facts["missing"]


def test_an_undocumented_course_in_progress_says_so() -> None:
    item = _review(procedures=pt_course(EIGHT_WEEKS[:3], region=None))["pt-trial-in-progress"]
    assert "region-not-documented" in item.notes


@pytest.mark.parametrize("how", ["reason-reference", "reason-code", "encounter", "based-on", "only-referral"])
def test_the_region_may_be_documented_beside_the_session(how: str) -> None:
    diagnosis = cgh()
    neck_referral = service_request(PT_REFERRAL, status="active", reason_refs=[diagnosis.ref], authored=weeks_ago(11))
    visit = pt_visit(None, type_text="Office visit", reason_codings=[CERVICALGIA])
    kwargs: dict[str, object] = {
        "reason-reference": {"reason_refs": [diagnosis.ref]},
        "reason-code": {"reason_codings": [CERVICALGIA]},
        "encounter": {"encounter": visit.ref},
        "based-on": {"based_on": [neck_referral.ref]},
        "only-referral": {},
    }[how]
    course = [procedure(PT_EXERCISE, day, **kwargs) for day in EIGHT_WEEKS]  # type: ignore[arg-type]
    r = record(diagnosis, procedures=course, encounters=[visit], service_requests=[neck_referral])
    assert pt_trial(r, TODAY, LIMITS).adequate


def test_two_referrals_without_a_link_leave_the_region_undocumented() -> None:
    neck = service_request(PT_REFERRAL, status="completed", text="PT neck", authored=weeks_ago(11))
    other = service_request(PT_REFERRAL, status="completed", text="PT", authored=weeks_ago(11))
    r = record(cgh(), procedures=pt_course(EIGHT_WEEKS, region=None), service_requests=[neck, other])
    assert not pt_trial(r, TODAY, LIMITS).adequate


def test_a_reason_condition_of_another_region_wins_over_the_fallback_referral() -> None:
    knee = condition(KNEE_OA)
    neck = service_request(PT_REFERRAL, status="completed", text="PT for neck pain", authored=weeks_ago(11))
    course = [procedure(PT_EXERCISE, day, reason_refs=[knee.ref]) for day in EIGHT_WEEKS]
    trial = pt_trial(record(cgh(), knee, procedures=course, service_requests=[neck]), TODAY, LIMITS)
    assert (trial.sessions, trial.other_region) == (0, True)


# ------------------------------------------------------------------------------------------------ C3


def test_finished_pt_encounters_count_one_session_per_date_with_procedures() -> None:
    visits = [pt_visit(day, reason_texts=["neck pain"]) for day in EIGHT_WEEKS]
    same_day = pt_course(EIGHT_WEEKS[:2], region="Neck")
    trial = pt_trial(record(procedures=same_day, encounters=visits), TODAY, LIMITS)
    assert (trial.sessions, trial.adequate, len(trial.visits)) == (8, True, 8)


@pytest.mark.parametrize(
    ("status", "type_text", "counts"),
    [
        ("finished", "Physical therapy visit", True),
        ("finished", "Physiotherapy outpatient", True),
        ("in-progress", "Physical therapy visit", False),
        ("cancelled", "Physical therapy visit", False),
        ("finished", "Office visit", False),
        ("finished", "Physical exam", False),
    ],
)
def test_a_pt_visit_is_a_finished_encounter_typed_physical_therapy(
    status: str, type_text: str, counts: bool
) -> None:
    visit = pt_visit(days_ago(3), status=status, type_text=type_text)
    assert pt_trial(record(encounters=[visit]), TODAY, LIMITS).sessions == (1 if counts else 0)


def test_a_pt_encounter_by_snomed_type_counts() -> None:
    visit = pt_visit(days_ago(3), types=[PT_REFERRAL], type_text=None)
    assert pt_trial(record(encounters=[visit]), TODAY, LIMITS).sessions == 1


def test_encounters_for_the_headache_make_an_adequate_trial_and_escalate() -> None:
    diagnosis = cgh()
    visits = [pt_visit(day, reason_refs=[diagnosis.ref]) for day in EIGHT_WEEKS]
    r = record(diagnosis, encounters=visits, observations=_failed())
    advice = by_id(evaluate(r, Moment.RECORD_REVIEW, TODAY))
    item = advice["escalate-occipital-nerve-block"]
    assert {t.ref for t in item.triggers if t.role == "pt-session"} == {v.ref for v in visits}
    assert item.notes == ("exercise-not-documented",)


@pytest.mark.parametrize(("authored", "fires"), [(days_ago(200), True), (days_ago(400), False), (None, True)])
def test_a_completed_pt_referral_without_sessions_asks_for_them(authored: date | None, fires: bool) -> None:
    done = service_request(PT_REFERRAL, status="completed", authored=authored)
    advice = _review(service_requests=[done])
    if fires:
        item = advice["pt-document-response"]
        assert item.notes == ("course-completed",)
        assert [t.ref for t in item.triggers if t.role == "pt-referral"] == [done.ref]
        assert "pt-first-line" not in advice and "escalate-occipital-nerve-block" not in advice
    else:
        assert "pt-first-line" in advice and "pt-document-response" not in advice


def test_a_completed_knee_referral_is_not_a_course() -> None:
    knee = service_request(PT_REFERRAL, status="completed", body_site_texts=["Both knees"], authored=days_ago(90))
    assert "pt-first-line" in _review(service_requests=[knee])
