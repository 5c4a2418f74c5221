"""Each derived fact of docs/clinical/reference.md §2.2 at its edges."""

from __future__ import annotations

from datetime import date

import pytest

from service.pathway import Moment
from service.pathway import PathwayThresholds
from service.pathway.facts import OrderKind
from service.pathway.facts import age
from service.pathway.facts import classify_order
from service.pathway.facts import derive_facts
from service.pathway.facts import diagnosis
from service.pathway.facts import months_before
from service.pathway.facts import onset
from service.pathway.facts import outcome
from service.pathway.facts import pregnancy
from service.pathway.facts import pt_trial
from service.pathway.facts import recent_trauma
from service.pathway.facts import steps
from service.pathway.facts import years_between
from tests.unit.pathway.builders import ACETAMINOPHEN
from tests.unit.pathway.builders import ANTICOAGULANT_USE
from tests.unit.pathway.builders import APIXABAN
from tests.unit.pathway.builders import CERVICAL_SPONDYLOSIS
from tests.unit.pathway.builders import CERVICALGIA
from tests.unit.pathway.builders import CGH
from tests.unit.pathway.builders import CGH_DOTLESS
from tests.unit.pathway.builders import CGH_LEGACY_CERVICOCRANIAL_DOTLESS
from tests.unit.pathway.builders import CGH_LEGACY_OTHER_HEADACHE
from tests.unit.pathway.builders import CHIRO_MANIPULATION
from tests.unit.pathway.builders import CTA_NECK
from tests.unit.pathway.builders import FACET_INJECTION
from tests.unit.pathway.builders import GON_BLOCK
from tests.unit.pathway.builders import HEADACHE
from tests.unit.pathway.builders import HEADACHE_PRE_2021
from tests.unit.pathway.builders import HEADACHE_SNOMED
from tests.unit.pathway.builders import IBUPROFEN_PRODUCT
from tests.unit.pathway.builders import MRI_CSPINE
from tests.unit.pathway.builders import NAPROXEN_PRODUCT
from tests.unit.pathway.builders import OTHER_NERVE_BLOCK
from tests.unit.pathway.builders import OXYCODONE
from tests.unit.pathway.builders import PREGNANCY_STATUS
from tests.unit.pathway.builders import PREGNANT_FINDING
from tests.unit.pathway.builders import PREGNANT_INCIDENTAL
from tests.unit.pathway.builders import PT_EVAL
from tests.unit.pathway.builders import PT_EXERCISE
from tests.unit.pathway.builders import PT_MANUAL
from tests.unit.pathway.builders import PT_NEURO
from tests.unit.pathway.builders import PT_REEVAL
from tests.unit.pathway.builders import PT_REFERRAL
from tests.unit.pathway.builders import RESPONSE_ADEQUATE
from tests.unit.pathway.builders import RESPONSE_INADEQUATE
from tests.unit.pathway.builders import RHEUMATOID_ARTHRITIS_SNOMED
from tests.unit.pathway.builders import SUMATRIPTAN
from tests.unit.pathway.builders import TODAY
from tests.unit.pathway.builders import TREATMENT_RESPONSE
from tests.unit.pathway.builders import WARFARIN_PRODUCT
from tests.unit.pathway.builders import WHIPLASH_SNOMED
from tests.unit.pathway.builders import WHIPLASH_SPRAIN
from tests.unit.pathway.builders import born_years_ago
from tests.unit.pathway.builders import cgh
from tests.unit.pathway.builders import condition
from tests.unit.pathway.builders import days_ago
from tests.unit.pathway.builders import gestation
from tests.unit.pathway.builders import headache_days
from tests.unit.pathway.builders import medication_request
from tests.unit.pathway.builders import observation
from tests.unit.pathway.builders import procedure
from tests.unit.pathway.builders import pt_course
from tests.unit.pathway.builders import record
from tests.unit.pathway.builders import service_request
from tests.unit.pathway.builders import weekly_sessions
from tests.unit.pathway.builders import weeks_ago

LIMITS = PathwayThresholds()


# ------------------------------------------------------------------------------------------------ dates and age


def test_age_counts_completed_years_only() -> None:
    assert age(record(birth_date=date(1985, 6, 1)), TODAY) == 40
    assert age(record(birth_date=date(1985, 6, 2)), TODAY) == 39


def test_age_is_unknown_without_birth_date_or_with_a_future_one() -> None:
    assert age(record(age=None), TODAY) is None
    assert age(record(birth_date=date(2030, 1, 1)), TODAY) is None
    assert years_between(date(2030, 1, 1), TODAY) is None


def test_months_before_clamps_to_month_end_and_date_min() -> None:
    assert months_before(date(2025, 3, 31), 1) == date(2025, 2, 28)
    assert months_before(date(2024, 2, 29), 12) == date(2023, 2, 28)
    assert months_before(date(1, 3, 1), 12) == date.min


# ------------------------------------------------------------------------------------------------ diagnosis


def test_confirmed_cgh_needs_verification_confirmed() -> None:
    result = diagnosis(record(cgh("confirmed")), TODAY)
    assert result.confirmed and not result.suspected


@pytest.mark.parametrize("verification", ["provisional", "differential", "unconfirmed", None])
def test_specific_code_not_confirmed_is_suspected(verification: str | None) -> None:
    result = diagnosis(record(cgh(verification)), TODAY)
    assert result.suspected and not result.confirmed


def test_missing_verification_status_is_suspected_per_section_2_2() -> None:
    result = diagnosis(record(cgh(None)), TODAY)
    assert result.basis == ("diagnosis without verification status",)


@pytest.mark.parametrize("verification", ["refuted", "entered-in-error", "REFUTED"])
def test_refuted_or_entered_in_error_is_ignored(verification: str) -> None:
    assert not diagnosis(record(cgh(verification)), TODAY).active


@pytest.mark.parametrize("clinical", ["inactive", "resolved", "remission"])
def test_inactive_resolved_remission_do_not_count_as_active(clinical: str) -> None:
    assert not diagnosis(record(cgh(clinical=clinical)), TODAY).active


@pytest.mark.parametrize("clinical", ["active", "recurrence", "relapse", None])
def test_active_recurrence_relapse_or_absent_clinical_status_count(clinical: str | None) -> None:
    assert diagnosis(record(cgh(clinical=clinical)), TODAY).confirmed


def test_abated_condition_is_not_active_even_without_clinical_status() -> None:
    assert not diagnosis(record(cgh(clinical=None, abatement=days_ago(1))), TODAY).active


def test_dotless_icd10cm_codes_match() -> None:
    assert diagnosis(record(condition(CGH_DOTLESS)), TODAY).confirmed
    legacy = diagnosis(record(condition(CGH_LEGACY_CERVICOCRANIAL_DOTLESS)), TODAY)
    assert legacy.suspected and legacy.basis == ("legacy code M53.0",)


def test_legacy_code_is_suspected_even_when_confirmed() -> None:
    result = diagnosis(record(condition(CGH_LEGACY_OTHER_HEADACHE, verification="confirmed")), TODAY)
    assert result.suspected and not result.confirmed


@pytest.mark.parametrize("headache", [HEADACHE, HEADACHE_PRE_2021, HEADACHE_SNOMED])
def test_headache_plus_cervical_disorder_is_suspected(headache: object) -> None:
    result = diagnosis(record(condition(headache), condition(CERVICALGIA)), TODAY)  # type: ignore[arg-type]
    assert result.suspected and result.basis == ("headache with a cervical disorder",)
    assert [c.ref for c in result.cervical] == [result.cervical[0].ref]


def test_headache_alone_or_cervical_disorder_alone_is_not_cgh() -> None:
    assert not diagnosis(record(condition(HEADACHE)), TODAY).active
    assert not diagnosis(record(condition(CERVICAL_SPONDYLOSIS)), TODAY).active


def test_principal_condition_prefers_the_confirmed_diagnosis() -> None:
    legacy = condition(CGH_LEGACY_OTHER_HEADACHE)
    confirmed = cgh()
    assert diagnosis(record(legacy, confirmed), TODAY).principal == confirmed


# ------------------------------------------------------------------------------------------------ onset


def test_onset_falls_back_to_recorded_date() -> None:
    result = onset(record(condition(CGH, recorded=days_ago(30))), TODAY, LIMITS)
    assert result.when == days_ago(30) and result.new


def test_onset_is_the_earliest_cgh_or_headache_condition() -> None:
    result = onset(record(cgh(onset=days_ago(100)), condition(HEADACHE, onset=days_ago(900))), TODAY, LIMITS)
    assert result.when == days_ago(900) and not result.new


def test_new_onset_edge_is_twelve_months() -> None:
    assert onset(record(cgh(onset=months_before(TODAY, 12))), TODAY, LIMITS).new
    assert not onset(record(cgh(onset=days_ago(1) - (TODAY - months_before(TODAY, 12)))), TODAY, LIMITS).new


def test_age_at_onset_is_computed_from_birth_date() -> None:
    r = record(cgh(onset=days_ago(10)), birth_date=born_years_ago(51, days_ago(10)))
    assert onset(r, TODAY, LIMITS).age_at_onset == 51


def test_no_onset_without_dates() -> None:
    result = onset(record(condition(CGH)), TODAY, LIMITS)
    assert result.when is None and not result.new


# ------------------------------------------------------------------------------------------------ PT trial


def test_session_dates_count_dates_not_billing_lines() -> None:
    three_lines = pt_course([days_ago(3)], (PT_EXERCISE, PT_MANUAL, PT_NEURO))
    assert pt_trial(record(procedures=three_lines), TODAY, LIMITS).sessions == 1


def test_reevaluation_counts_for_the_start_date_not_for_sessions() -> None:
    procedures = (procedure(PT_REEVAL, weeks_ago(9)), *pt_course(weekly_sessions(3, weeks_ago(4))))
    trial = pt_trial(record(procedures=procedures), TODAY, LIMITS)
    # revision-2 C1: weeks are the span of treatment, first (the re-evaluation) to last session, week 1 counted.
    assert trial.first == weeks_ago(9) and trial.last == weeks_ago(2) and trial.weeks == 8 and trial.sessions == 3


def test_evaluation_counts_as_a_session() -> None:
    trial = pt_trial(record(procedures=[procedure(PT_EVAL, days_ago(5))]), TODAY, LIMITS)
    assert trial.sessions == 1


@pytest.mark.parametrize("status", ["in-progress", "not-done", "entered-in-error", None])
def test_only_completed_procedures_count(status: str | None) -> None:
    assert (
        pt_trial(record(procedures=[procedure(PT_EXERCISE, days_ago(5), status=status)]), TODAY, LIMITS).sessions == 0
    )


def test_lookback_is_twelve_months() -> None:
    inside = procedure(PT_EXERCISE, months_before(TODAY, 12))
    outside = procedure(PT_EXERCISE, months_before(TODAY, 12) - (TODAY - days_ago(1)))
    assert pt_trial(record(procedures=[inside, outside]), TODAY, LIMITS).sessions == 1


def test_undated_and_future_procedures_are_not_counted() -> None:
    future = procedure(PT_EXERCISE, date(2025, 6, 2))
    undated = procedure(PT_EXERCISE, None)
    assert pt_trial(record(procedures=[future, undated]), TODAY, LIMITS).first is None


def test_exactly_eight_weeks_and_six_sessions_is_adequate() -> None:
    dates = [weeks_ago(8), *weekly_sessions(5, weeks_ago(5))]
    trial = pt_trial(record(procedures=pt_course(dates)), TODAY, LIMITS)
    assert (trial.weeks, trial.sessions, trial.adequate) == (8, 6, True)


def test_one_day_short_of_eight_weeks_is_not_adequate() -> None:
    dates = [days_ago(55), *weekly_sessions(5, weeks_ago(5))]
    trial = pt_trial(record(procedures=pt_course(dates)), TODAY, LIMITS)
    assert (trial.weeks, trial.adequate) == (7, False)


def test_five_session_dates_over_eight_weeks_is_not_adequate_six_is() -> None:
    six_dates = [weeks_ago(9), weeks_ago(8), weeks_ago(7), weeks_ago(5), weeks_ago(4), weeks_ago(2)]
    five = pt_trial(record(procedures=pt_course(six_dates[:3] + six_dates[4:])), TODAY, LIMITS)
    six = pt_trial(record(procedures=pt_course(six_dates)), TODAY, LIMITS)
    assert (five.sessions, five.weeks, five.adequate) == (5, 8, False)
    assert (six.sessions, six.weeks, six.adequate) == (6, 8, True)


def test_six_weekly_sessions_span_six_weeks_of_treatment_not_eight() -> None:
    # revision-2 C1: weeks since the first session no longer count; six weekly sessions are 6 weeks of treatment.
    trial = pt_trial(record(procedures=pt_course(weekly_sessions(6, weeks_ago(9)))), TODAY, LIMITS)
    assert (trial.weeks, trial.course_adequate, trial.adequate) == (6, False, False)


def test_twelve_sessions_in_five_weeks_is_not_adequate() -> None:
    # revision-2 C1: the "or 12 sessions" alternative is gone; 12 sessions in 5 weeks is not an 8-week programme.
    twelve = [days_ago(35 - 3 * index) for index in range(12)]
    trial = pt_trial(record(procedures=pt_course(twelve)), TODAY, LIMITS)
    assert (trial.sessions, trial.weeks, trial.adequate, trial.course_adequate) == (12, 5, False, False)


def test_thresholds_are_configurable() -> None:
    procedures = pt_course(weekly_sessions(4, weeks_ago(4)))
    strict = PathwayThresholds(pt_min_weeks=4, pt_min_sessions=4)
    assert pt_trial(record(procedures=procedures), TODAY, strict).adequate


def test_active_pt_referral_is_recognised() -> None:
    trial = pt_trial(record(service_requests=[service_request(PT_REFERRAL, status="active")]), TODAY, LIMITS)
    assert trial.referral
    completed = service_request(PT_REFERRAL, status="completed")
    assert not pt_trial(record(service_requests=[completed]), TODAY, LIMITS).referral


# ------------------------------------------------------------------------------------------------ outcome


def _trial(first: date) -> object:
    return pt_trial(record(procedures=pt_course(weekly_sessions(8, first))), TODAY, LIMITS)


def test_inadequate_response_below_fifty_percent_reduction() -> None:
    first = weeks_ago(12)
    r = record(
        procedures=pt_course(weekly_sessions(8, first)),
        observations=[headache_days(days_ago(90), 12), headache_days(days_ago(1), 9)],
    )
    result = outcome(r, pt_trial(r, TODAY, LIMITS), TODAY, LIMITS)
    assert result.has_data and result.inadequate
    assert result.response == "25% reduction in headache frequency (12 to 9 days per month)"


def test_fifty_percent_reduction_is_a_response() -> None:
    r = record(
        procedures=pt_course(weekly_sessions(8, weeks_ago(12))),
        observations=[headache_days(days_ago(90), 12), headache_days(days_ago(1), 6)],
    )
    result = outcome(r, pt_trial(r, TODAY, LIMITS), TODAY, LIMITS)
    assert result.has_data and not result.inadequate


def test_follow_up_counts_from_exactly_eight_weeks_after_pt_first() -> None:
    first = weeks_ago(10)
    at_eight = record(
        procedures=pt_course(weekly_sessions(8, first)),
        observations=[headache_days(first - (TODAY - days_ago(1)), 10), headache_days(weeks_ago(2), 9)],
    )
    assert outcome(at_eight, pt_trial(at_eight, TODAY, LIMITS), TODAY, LIMITS).has_data
    early = record(
        procedures=pt_course(weekly_sessions(8, first)),
        observations=[
            headache_days(first - (TODAY - days_ago(1)), 10),
            headache_days(weeks_ago(2) - (TODAY - days_ago(1)), 9),
        ],
    )
    assert not outcome(early, pt_trial(early, TODAY, LIMITS), TODAY, LIMITS).has_data


def test_no_baseline_means_no_outcome_data() -> None:
    r = record(procedures=pt_course(weekly_sessions(8, weeks_ago(12))), observations=[headache_days(days_ago(1), 9)])
    result = outcome(r, pt_trial(r, TODAY, LIMITS), TODAY, LIMITS)
    assert not result.has_data and not result.inadequate


def test_no_pt_means_no_outcome() -> None:
    r = record(observations=[headache_days(days_ago(90), 12), headache_days(days_ago(1), 12)])
    assert not outcome(r, pt_trial(r, TODAY, LIMITS), TODAY, LIMITS).has_data


def test_explicit_treatment_response_decides_when_it_is_the_latest_follow_up() -> None:
    """revision-2 C17: the latest follow-up decides, the explicit response on a tie."""
    pt = pt_course(weekly_sessions(8, weeks_ago(12)))
    inadequate = record(
        procedures=pt, observations=[observation(TREATMENT_RESPONSE, days_ago(2), value_coding=RESPONSE_INADEQUATE)]
    )
    adequate = record(
        procedures=pt,
        observations=[
            observation(TREATMENT_RESPONSE, days_ago(2), value_coding=RESPONSE_ADEQUATE),
            headache_days(days_ago(90), 12),
            headache_days(days_ago(3), 12),
        ],
    )
    assert outcome(inadequate, pt_trial(inadequate, TODAY, LIMITS), TODAY, LIMITS).inadequate
    result = outcome(adequate, pt_trial(adequate, TODAY, LIMITS), TODAY, LIMITS)
    assert result.has_data and not result.inadequate
    later_frequency = record(
        procedures=pt,
        observations=[
            observation(TREATMENT_RESPONSE, days_ago(2), value_coding=RESPONSE_ADEQUATE),
            headache_days(days_ago(90), 12),
            headache_days(days_ago(1), 12),
        ],
    )
    result = outcome(later_frequency, pt_trial(later_frequency, TODAY, LIMITS), TODAY, LIMITS)
    assert result.has_data and result.inadequate


def test_entered_in_error_observations_are_ignored() -> None:
    r = record(
        procedures=pt_course(weekly_sessions(8, weeks_ago(12))),
        observations=[
            headache_days(days_ago(90), 12),
            observation(TREATMENT_RESPONSE, days_ago(2), value_coding=RESPONSE_INADEQUATE, status="entered-in-error"),
        ],
    )
    assert not outcome(r, pt_trial(r, TODAY, LIMITS), TODAY, LIMITS).has_data


# ------------------------------------------------------------------------------------------------ steps


def test_completed_gon_block_is_step_two() -> None:
    assert steps(record(procedures=[procedure(GON_BLOCK, days_ago(30))]), TODAY, LIMITS).step2_done
    not_done = procedure(GON_BLOCK, days_ago(30), status="not-done")
    assert not steps(record(procedures=[not_done]), TODAY, LIMITS).step2_done


def test_other_nerve_block_is_gon_only_with_occipital_site() -> None:
    plain = procedure(OTHER_NERVE_BLOCK, days_ago(30))
    occipital = procedure(OTHER_NERVE_BLOCK, days_ago(30), text="Lesser occipital nerve block")
    assert not steps(record(procedures=[plain]), TODAY, LIMITS).step2_done
    assert steps(record(procedures=[occipital]), TODAY, LIMITS).step2_done


def test_percutaneous_is_step_three() -> None:
    cervical = procedure(FACET_INJECTION, days_ago(30), text="Cervical facet joint injection, C2-C3")
    result = steps(record(procedures=[cervical]), TODAY, LIMITS)
    assert result.step3_done and not result.step2_done


# ------------------------------------------------------------------------------------------------ red flags


def _flags(r: object, moment: Moment = Moment.RECORD_REVIEW) -> set[str]:
    return {f.category for f in derive_facts(r, moment, TODAY).red_flags}  # type: ignore[arg-type]


@pytest.mark.parametrize("weeks, recent", [(6, True), (7, False)])
def test_trauma_counts_within_six_weeks_only(weeks: int, recent: bool) -> None:
    r = record(cgh(), condition(WHIPLASH_SPRAIN, onset=weeks_ago(weeks)))
    assert bool(recent_trauma(r, TODAY, LIMITS)) is recent
    assert ("trauma" in _flags(r)) is recent


def test_resolved_recent_whiplash_still_counts_as_trauma() -> None:
    r = record(condition(WHIPLASH_SNOMED, clinical="resolved", onset=weeks_ago(3)))
    assert recent_trauma(r, TODAY, LIMITS)


def test_undated_trauma_counts_only_while_active() -> None:
    assert recent_trauma(record(condition(WHIPLASH_SPRAIN)), TODAY, LIMITS)
    assert not recent_trauma(record(condition(WHIPLASH_SPRAIN, clinical="resolved")), TODAY, LIMITS)


@pytest.mark.parametrize("age_at_onset, flagged", [(50, False), (51, True)])
def test_new_onset_after_fifty_is_a_red_flag(age_at_onset: int, flagged: bool) -> None:
    r = record(cgh(onset=days_ago(30)), birth_date=born_years_ago(age_at_onset, days_ago(30)))
    assert ("new-onset-older-adult" in _flags(r)) is flagged


def test_old_onset_in_an_older_adult_is_not_a_red_flag() -> None:
    assert not _flags(record(cgh(onset=days_ago(4 * 365)), age=72))


def test_pregnancy_with_new_headache_is_a_red_flag_old_headache_is_not() -> None:
    new = record(cgh(onset=weeks_ago(3)), condition(PREGNANT_INCIDENTAL), age=31)
    old = record(cgh(onset=days_ago(730)), condition(PREGNANT_INCIDENTAL), age=31)
    assert "pregnancy-new-headache" in _flags(new)
    assert not _flags(old)


def test_drafted_vascular_imaging_is_never_a_red_flag() -> None:
    """revision-2 C07: an order is never a red flag by itself."""
    cta = service_request(CTA_NECK)
    mri = service_request(MRI_CSPINE)
    r = record(cgh(), drafts=[cta, mri], selections=[mri.ref])
    assert _flags(r, Moment.ORDER_SELECT) == set()
    assert _flags(r, Moment.ORDER_SIGN) == set()


def test_coded_red_flags_carry_their_category() -> None:
    from tests.unit.pathway.builders import DIPLOPIA
    from tests.unit.pathway.builders import HIV
    from tests.unit.pathway.builders import VERTEBRAL_DISSECTION

    r = record(cgh(), condition(VERTEBRAL_DISSECTION), condition(DIPLOPIA), condition(HIV))
    # revision-2 C08: immunosuppression counts only with a new or changed headache.
    assert _flags(r) == {"dissection", "neurologic-deficit"}
    new = record(cgh(onset=weeks_ago(3)), condition(VERTEBRAL_DISSECTION), condition(DIPLOPIA), condition(HIV))
    assert _flags(new) == {"dissection", "neurologic-deficit", "immunosuppression"}


def test_inactive_red_flag_condition_does_not_count() -> None:
    from tests.unit.pathway.builders import FEVER

    assert not _flags(record(cgh(), condition(FEVER, clinical="resolved")))


# ------------------------------------------------------------------------------------------------ contraindications


def _tiers(r: object) -> dict[str, str | None]:
    facts = derive_facts(r, Moment.ORDER_SIGN, TODAY)  # type: ignore[arg-type]
    return {f.category: f.tier for f in facts.contraindications}


def test_rheumatoid_arthritis_without_instability_is_relative() -> None:
    assert _tiers(record(cgh(), condition(RHEUMATOID_ARTHRITIS_SNOMED))) == {"inflammatory-arthritis": "relative"}


def test_anticoagulant_medication_or_z79_01_is_relative() -> None:
    med = record(cgh(), medication_requests=[medication_request(APIXABAN, status="active")])
    product = record(cgh(), medication_requests=[medication_request(WARFARIN_PRODUCT, status="active")])
    status = record(cgh(), condition(ANTICOAGULANT_USE))
    stopped = record(cgh(), medication_requests=[medication_request(APIXABAN, status="stopped")])
    assert _tiers(med) == _tiers(product) == _tiers(status) == {"anticoagulation": "relative"}
    assert _tiers(stopped) == {}


def test_anticoagulant_found_by_name_when_no_code_matches() -> None:
    by_name = record(cgh(), medication_requests=[medication_request(text="Eliquis 5 mg tablet", status="active")])
    assert _tiers(by_name) == {"anticoagulation": "relative"}


def test_recent_trauma_is_absolute() -> None:
    assert _tiers(record(cgh(), condition(WHIPLASH_SPRAIN, onset=weeks_ago(2)))) == {"trauma": "absolute"}


# ------------------------------------------------------------------------------------------------ pregnancy


@pytest.mark.parametrize("weeks", [19, 20, 24])
def test_gestational_weeks_from_z3a(weeks: int) -> None:
    result = pregnancy(record(condition(gestation(weeks), recorded=TODAY)), TODAY, LIMITS)
    assert result.pregnant and result.gest_weeks == weeks


def test_gestational_weeks_advance_with_time_since_recorded() -> None:
    result = pregnancy(record(condition(gestation(19), recorded=weeks_ago(1))), TODAY, LIMITS)
    assert result.gest_weeks == 20


def test_pregnancy_observation_expires_after_ten_months() -> None:
    # revision 2 C10: a signal expires 10 months after its date.
    day_after_expiry = months_before(TODAY, 10) + (TODAY - days_ago(1))
    recent = observation(PREGNANCY_STATUS, day_after_expiry, value_coding=PREGNANT_FINDING)
    old = observation(PREGNANCY_STATUS, months_before(TODAY, 10), value_coding=PREGNANT_FINDING)
    assert pregnancy(record(observations=[recent]), TODAY, LIMITS).pregnant
    assert not pregnancy(record(observations=[old]), TODAY, LIMITS).pregnant


def test_abated_pregnancy_condition_does_not_count() -> None:
    ended = condition(PREGNANT_INCIDENTAL, clinical="resolved", abatement=days_ago(10))
    assert not pregnancy(record(ended), TODAY, LIMITS).pregnant


# ------------------------------------------------------------------------------------------------ orders


@pytest.mark.parametrize(
    "order, kind",
    [
        (service_request(MRI_CSPINE), OrderKind.SPINE_IMAGING),
        (service_request(CTA_NECK), OrderKind.VASCULAR_IMAGING),
        (service_request(CHIRO_MANIPULATION), OrderKind.MANIPULATION),
        (service_request(GON_BLOCK), OrderKind.GON_BLOCK),
        (service_request(FACET_INJECTION), OrderKind.PERCUTANEOUS),
        (medication_request(OXYCODONE), OrderKind.OPIOID),
        (medication_request(IBUPROFEN_PRODUCT), OrderKind.NSAID),
        (medication_request(NAPROXEN_PRODUCT), OrderKind.NSAID),
        (medication_request(ACETAMINOPHEN), OrderKind.PARACETAMOL),
        (medication_request(SUMATRIPTAN), OrderKind.TRIPTAN),
        (medication_request(text="Ibuprofen 400 mg tablets"), OrderKind.NSAID),
        (medication_request(text="Paracetamol 500 mg"), OrderKind.PARACETAMOL),
        (service_request(PT_REFERRAL), OrderKind.PT),
    ],
)
def test_drafted_orders_are_classified(order: object, kind: OrderKind) -> None:
    assert kind in classify_order(order)  # type: ignore[arg-type]


def test_pt_order_documenting_cervical_thrust_is_manipulation() -> None:
    thrust = service_request(PT_MANUAL, text="Manual therapy incl. HVLA thrust to the cervical spine")
    mobilisation = service_request(PT_MANUAL, text="Cervical mobilisation, no thrust techniques")
    assert OrderKind.MANIPULATION in classify_order(thrust)
    # "no thrust" still names thrust: the gate errs on the side of the safety check.
    assert OrderKind.MANIPULATION in classify_order(mobilisation)
    assert OrderKind.MANIPULATION not in classify_order(service_request(PT_MANUAL, text="Cervical mobilisation"))


def test_order_select_judges_only_the_selections() -> None:
    selected = service_request(MRI_CSPINE)
    other = medication_request(OXYCODONE)
    r = record(cgh(), drafts=[selected, other], selections=[selected.ref])
    judged = {o.ref for o in derive_facts(r, Moment.ORDER_SELECT, TODAY).judged_orders}
    assert judged == {selected.ref}
    assert {o.ref for o in derive_facts(r, Moment.ORDER_SIGN, TODAY).judged_orders} == {selected.ref, other.ref}
    assert not derive_facts(r, Moment.RECORD_REVIEW, TODAY).judged_orders
