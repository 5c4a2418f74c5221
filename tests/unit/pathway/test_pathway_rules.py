"""Every recommendation id fires, is suppressed where docs/clinical/reference.md §2.3 says so, and hands over the
catalogue.

Test ids are the recommendation ids. Each fired advice is checked against exactly the facts, notes, trigger
roles and suggestions its declaration (``service/pathway/rules/``) lets its card use.
"""

from __future__ import annotations

from datetime import date

import pytest

from service.fhir.record import PatientRecord
from service.pathway import Advice
from service.pathway import Indicator
from service.pathway import Moment
from service.pathway import RecommendationId
from service.pathway import SuggestionKind
from service.pathway import evaluate
from service.pathway.rules import RULES
from tests.unit.pathway.builders import ACETAMINOPHEN
from tests.unit.pathway.builders import ANTICOAGULANT_USE
from tests.unit.pathway.builders import APIXABAN
from tests.unit.pathway.builders import BOTOX_HCPCS
from tests.unit.pathway.builders import BOTOX_PROCEDURE
from tests.unit.pathway.builders import CERVICAL_LEVEL
from tests.unit.pathway.builders import CERVICALGIA
from tests.unit.pathway.builders import CGH_LEGACY_OTHER_HEADACHE
from tests.unit.pathway.builders import CHIRO_MANIPULATION
from tests.unit.pathway.builders import CHIRO_MANIPULATION_SNOMED
from tests.unit.pathway.builders import CT_CSPINE
from tests.unit.pathway.builders import CTA_NECK
from tests.unit.pathway.builders import FACET_INJECTION
from tests.unit.pathway.builders import FEVER
from tests.unit.pathway.builders import GON_BLOCK
from tests.unit.pathway.builders import HEADACHE
from tests.unit.pathway.builders import IBUPROFEN
from tests.unit.pathway.builders import MEDIAL_BRANCH_BLOCK
from tests.unit.pathway.builders import MIGRAINE
from tests.unit.pathway.builders import MRI_BRAIN
from tests.unit.pathway.builders import MRI_CSPINE
from tests.unit.pathway.builders import OCCIPITO_ATLANTO_AXIAL_INSTABILITY
from tests.unit.pathway.builders import OSTEOPOROSIS
from tests.unit.pathway.builders import OXYCODONE
from tests.unit.pathway.builders import PREGNANT_INCIDENTAL
from tests.unit.pathway.builders import PT_REFERRAL
from tests.unit.pathway.builders import RF_NEUROTOMY
from tests.unit.pathway.builders import SIH
from tests.unit.pathway.builders import TODAY
from tests.unit.pathway.builders import VERTEBRAL_DISSECTION
from tests.unit.pathway.builders import adequate_failed_trial
from tests.unit.pathway.builders import block_relief
from tests.unit.pathway.builders import by_id
from tests.unit.pathway.builders import cgh
from tests.unit.pathway.builders import condition
from tests.unit.pathway.builders import days_ago
from tests.unit.pathway.builders import gestation
from tests.unit.pathway.builders import headache_days
from tests.unit.pathway.builders import ids
from tests.unit.pathway.builders import medication_request
from tests.unit.pathway.builders import procedure
from tests.unit.pathway.builders import pt_course
from tests.unit.pathway.builders import record
from tests.unit.pathway.builders import service_request
from tests.unit.pathway.builders import weekly_sessions
from tests.unit.pathway.builders import weeks_ago

R = RecommendationId


#: What each recommendation's rule may hand to its card, from the declarations beside the rules.
CONTRACT = {rule.id.value: rule.contract for rule in RULES}


def check_contract(advice: Advice) -> None:
    contract = CONTRACT[advice.recommendation.value]
    # Facts present only with a note (e.g. gest_weeks with nsaid-pregnancy) may appear only with that note.
    optional = {fact for note in advice.notes for fact in contract.note_facts.get(note, ())}
    assert set(contract.facts) <= set(advice.facts) <= set(contract.facts) | optional, advice.recommendation
    assert all(isinstance(value, str) for value in advice.facts.values())
    assert set(advice.notes) <= set(contract.notes), advice.notes
    assert {t.ref for t in advice.triggers}, "every advice names what triggered it"
    assert {t.role for t in advice.triggers} <= set(contract.all_roles), advice.triggers
    assert set(advice.suggestions) <= set(contract.suggestions)
    assert advice.patient_ref == "Patient/p1"
    if {
        SuggestionKind.CREATE_PT_REFERRAL,
        SuggestionKind.REPLACE_WITH_PT_REFERRAL,
        SuggestionKind.CREATE_GON_BLOCK,
    } & set(advice.suggestions):
        assert advice.reason_ref is not None and advice.reason_ref.startswith("Condition/")


def run(r: PatientRecord, moment: Moment = Moment.RECORD_REVIEW, today: date = TODAY) -> dict[str, Advice]:
    advice = evaluate(r, moment, today)
    assert len(advice) == len(ids(advice)), "at most one advice per recommendation id"
    for item in advice:
        check_contract(item)
    return by_id(advice)


def sign(*orders: object, conditions: tuple[object, ...] = (), **kw: object) -> dict[str, Advice]:
    conds = conditions or (cgh(),)
    return run(record(*conds, drafts=orders, **kw), Moment.ORDER_SIGN)  # type: ignore[arg-type]


def test_catalogue_covers_every_recommendation_and_every_rule() -> None:
    assert set(CONTRACT) == {r.value for r in RecommendationId}
    assert [rule.id for rule in RULES] == sorted(RecommendationId, key=lambda rec: ORDER[rec])
    assert len({rule.order for rule in RULES}) == len(RULES)


ORDER = {rule.id: rule.order for rule in RULES}


# ------------------------------------------------------------------------------------------------ R0


@pytest.mark.parametrize("moment", list(Moment))
def test_no_cgh_gets_no_advice(moment: Moment) -> None:
    r = record(condition(MIGRAINE), condition(VERTEBRAL_DISSECTION), drafts=[service_request(MRI_CSPINE)])
    assert evaluate(r, moment, TODAY) == ()


@pytest.mark.parametrize("verification", ["refuted", "entered-in-error"])
@pytest.mark.parametrize("moment", list(Moment))
def test_refuted_or_entered_in_error_diagnosis_gets_no_advice(verification: str, moment: Moment) -> None:
    r = record(cgh(verification), drafts=[service_request(MRI_CSPINE), medication_request(OXYCODONE)])
    assert evaluate(r, moment, TODAY) == ()


@pytest.mark.parametrize("moment", list(Moment))
def test_deceased_patient_gets_no_advice(moment: Moment) -> None:
    r = record(cgh(), condition(FEVER), deceased=True, drafts=[service_request(MRI_CSPINE)])
    assert evaluate(r, moment, TODAY) == ()


def test_patient_missing_entirely_is_handled() -> None:
    assert evaluate(PatientRecord(), Moment.RECORD_REVIEW, TODAY) == ()
    advice = evaluate(PatientRecord(conditions=(cgh(),)), Moment.RECORD_REVIEW, TODAY)
    assert ids(advice) == {"pt-first-line"} and advice[0].patient_ref is None


# ------------------------------------------------------------------------------------------------ R1


def test_out_of_scope_pediatric_fires_under_18_and_suppresses_adult_pathway() -> None:
    pt, obs = adequate_failed_trial()
    advice = run(record(cgh("provisional"), age=16, procedures=pt, observations=obs))
    # revision 2 C4: suspected-confirm-diagnosis belongs to the adult pathway.
    assert set(advice) == {"out-of-scope-pediatric"}
    assert advice["out-of-scope-pediatric"].facts["age"] == "16"


def test_out_of_scope_pediatric_suppressed_at_18() -> None:
    assert "out-of-scope-pediatric" not in run(record(cgh(), age=18))


def test_pediatric_still_gets_red_flags_and_differentials() -> None:
    advice = run(record(cgh(), condition(FEVER), condition(MIGRAINE), age=16))
    assert set(advice) == {"out-of-scope-pediatric", "red-flags", "differential-diagnosis"}


def test_pediatric_order_hook_gets_safety_advice_only() -> None:
    # revision 2 C4: imaging-not-indicated is adult pathway; medication-opioid is a safety card.
    advice = run(
        record(cgh(), age=12, drafts=[service_request(MRI_CSPINE), medication_request(OXYCODONE)]), Moment.ORDER_SIGN
    )
    assert set(advice) == {"out-of-scope-pediatric", "medication-opioid"}


# ------------------------------------------------------------------------------------------------ R2


def test_red_flags_fires_critical_with_notes() -> None:
    advice = run(record(cgh(), condition(VERTEBRAL_DISSECTION), condition(FEVER)))
    flag = advice["red-flags"]
    assert flag.indicator is Indicator.CRITICAL
    assert flag.facts["red_flags"] == "cervical artery dissection; fever"  # a "; " list: a summary keeps whole items
    assert flag.notes == ("dissection-suspected",)
    assert "pt-first-line" not in advice


def test_red_flags_suppressed_without_a_flag() -> None:
    assert "red-flags" not in run(record(cgh()))


def test_red_flags_fire_on_every_hook() -> None:
    for moment in Moment:
        assert "red-flags" in run(record(cgh(), condition(FEVER)), moment)


# ------------------------------------------------------------------------------------------------ R3


def test_differential_diagnosis_info_for_migraine() -> None:
    item = run(record(cgh(), condition(MIGRAINE)))["differential-diagnosis"]
    assert (item.indicator, item.notes, item.facts["differentials"]) == (Indicator.INFO, ("migraine",), "migraine")


def test_differential_diagnosis_warning_for_sih() -> None:
    item = run(record(cgh(), condition(SIH), condition(MIGRAINE)))["differential-diagnosis"]
    assert item.indicator is Indicator.WARNING and item.notes == ("orthostatic", "migraine")


def test_differential_diagnosis_suppressed_without_competitor_and_on_order_hooks() -> None:
    assert "differential-diagnosis" not in run(record(cgh()))
    assert "differential-diagnosis" not in run(record(cgh(), condition(MIGRAINE)), Moment.ORDER_SIGN)


# ------------------------------------------------------------------------------------------------ R12


def test_suspected_confirm_diagnosis_fires_for_suspected() -> None:
    item = run(record(condition(CGH_LEGACY_OTHER_HEADACHE), condition(HEADACHE), condition(CERVICALGIA)))[
        "suspected-confirm-diagnosis"
    ]
    assert item.facts["basis"] == "legacy code G44.89, headache with a cervical disorder"
    assert "cervical-disorder" in {t.role for t in item.triggers}


def test_suspected_confirm_diagnosis_suppressed_when_confirmed_or_on_order_hook() -> None:
    assert "suspected-confirm-diagnosis" not in run(record(cgh()))
    assert "suspected-confirm-diagnosis" not in run(record(cgh("provisional")), Moment.ORDER_SIGN)


def test_suspected_confirm_diagnosis_says_a_gon_block_supports_without_confirming() -> None:
    """revision-2 C16: >= 50 % structured relief after a GON block supports the diagnosis, never confirms it."""
    block = procedure(GON_BLOCK, days_ago(20))
    item = run(record(cgh("provisional"), procedures=[block], observations=[block_relief(block, 80)]))[
        "suspected-confirm-diagnosis"
    ]
    assert item.notes == ("block-supports",)
    assert (block.ref, "diagnostic-block") in {(t.ref, t.role) for t in item.triggers}


# ------------------------------------------------------------------------------------------------ R5


def test_pt_first_line_fires_without_prior_pt() -> None:
    item = run(record(cgh()))["pt-first-line"]
    assert item.suggestions == (SuggestionKind.CREATE_PT_REFERRAL,) and item.notes == ()


def test_pt_first_line_notes_prior_block() -> None:
    item = run(record(cgh(), procedures=[procedure(GON_BLOCK, date(2025, 3, 1))]))["pt-first-line"]
    assert item.notes == ("prior-block",)
    assert "prior-procedure" in {t.role for t in item.triggers}


def test_pt_first_line_suppressed_by_pt_referral_sessions_or_red_flag() -> None:
    assert "pt-first-line" not in run(record(cgh(), service_requests=[service_request(PT_REFERRAL, status="active")]))
    assert "pt-first-line" not in run(record(cgh(), procedures=pt_course([days_ago(3)])))
    assert "pt-first-line" not in run(record(cgh(), condition(FEVER)))


def test_pt_first_line_on_order_hook_when_escalation_is_ordered_without_pt() -> None:
    block = service_request(GON_BLOCK)
    item = sign(block)["pt-first-line"]
    assert item.notes == ("escalation-ordered",) and item.orders == (block.ref,)


def test_pt_first_line_not_on_order_hook_without_escalation_or_with_pt_drafted() -> None:
    assert "pt-first-line" not in sign(medication_request(OXYCODONE))
    assert "pt-first-line" not in sign(service_request(GON_BLOCK), service_request(PT_REFERRAL))


# ------------------------------------------------------------------------------------------------ R6


def test_pt_trial_in_progress_fires_before_adequate() -> None:
    item = run(record(cgh(), procedures=pt_course(weekly_sessions(6, weeks_ago(6)))))["pt-trial-in-progress"]
    assert dict(item.facts) == {
        "pt_weeks": "6",
        "pt_sessions": "6",
        "pt_first": weeks_ago(6).isoformat(),
        "pt_last": weeks_ago(1).isoformat(),
        "min_weeks": "8",
        "min_sessions": "6",
    }
    assert item.notes == ()


def test_pt_trial_in_progress_suppressed_once_adequate() -> None:
    advice = run(record(cgh(), procedures=pt_course(weekly_sessions(8, weeks_ago(8)))))
    assert "pt-trial-in-progress" not in advice


# ------------------------------------------------------------------------------------------------ 2.2


def test_pt_document_response_fires_when_adequate_without_outcome_data() -> None:
    advice = run(record(cgh(), procedures=pt_course(weekly_sessions(8, weeks_ago(10)))))
    assert set(advice) == {"pt-document-response"}
    # revision-2 C1: weeks of treatment, first to last session (10 to 3 weeks ago), not first session to today.
    assert dict(advice["pt-document-response"].facts) == {"pt_weeks": "8", "pt_sessions": "8"}
    assert advice["pt-document-response"].notes == ("no-outcome",)


def test_pt_document_response_suppressed_with_outcome_data() -> None:
    pt, obs = adequate_failed_trial()
    assert "pt-document-response" not in run(record(cgh(), procedures=pt, observations=obs))


# ------------------------------------------------------------------------------------------------ R9


def test_escalate_occipital_nerve_block_after_failed_adequate_trial() -> None:
    pt, obs = adequate_failed_trial()
    item = run(record(cgh(), procedures=pt, observations=obs))["escalate-occipital-nerve-block"]
    assert item.suggestions == (SuggestionKind.CREATE_GON_BLOCK,)
    assert item.facts["response"] == "25% reduction in headache frequency (12 to 9 days per month)"
    assert {"pt-session", "outcome"} <= {t.role for t in item.triggers}


def test_escalate_occipital_nerve_block_suppressed_by_response_red_flag_or_done_block() -> None:
    pt, obs = adequate_failed_trial(reduction_to=6)
    assert "escalate-occipital-nerve-block" not in run(record(cgh(), procedures=pt, observations=obs))
    pt, obs = adequate_failed_trial()
    assert "escalate-occipital-nerve-block" not in run(record(cgh(), condition(FEVER), procedures=pt, observations=obs))
    done = (*pt, procedure(GON_BLOCK, days_ago(40)))
    assert "escalate-occipital-nerve-block" not in run(record(cgh(), procedures=done, observations=obs))


# ------------------------------------------------------------------------------------------------ R10


def test_escalate_percutaneous_after_gon_block() -> None:
    pt, obs = adequate_failed_trial()
    block = procedure(GON_BLOCK, date(2025, 4, 15))
    item = run(record(cgh(), condition(ANTICOAGULANT_USE), procedures=(*pt, block), observations=obs))[
        "escalate-percutaneous"
    ]
    assert item.facts["block_date"] == "2025-04-15" and item.notes == ("anticoagulated",)


def test_escalate_percutaneous_suppressed_without_block_or_after_step_three() -> None:
    pt, obs = adequate_failed_trial()
    assert "escalate-percutaneous" not in run(record(cgh(), procedures=pt, observations=obs))
    done = (*pt, procedure(GON_BLOCK, days_ago(60)), procedure(FACET_INJECTION, days_ago(30), text=CERVICAL_LEVEL))
    assert "escalate-percutaneous" not in run(record(cgh(), procedures=done, observations=obs))


# ------------------------------------------------------------------------------------------------ R11


def test_refractory_options_for_confirmed_after_step_three() -> None:
    pt, obs = adequate_failed_trial()
    done = (*pt, procedure(GON_BLOCK, days_ago(60)), procedure(FACET_INJECTION, days_ago(30), text=CERVICAL_LEVEL))
    advice = run(record(cgh(), procedures=done, observations=obs))
    assert "refractory-options" in advice and "escalate-percutaneous" not in advice


def test_refractory_options_for_suspected_confirmed_by_controlled_medial_branch_blocks() -> None:
    """revision-2 C16: >= 80 % relief on two cervical medial branch blocks confirms; one GON block does not."""
    pt, obs = adequate_failed_trial()
    gon = procedure(GON_BLOCK, days_ago(60))
    first = procedure(MEDIAL_BRANCH_BLOCK, days_ago(40), text=CERVICAL_LEVEL)
    second = procedure(MEDIAL_BRANCH_BLOCK, days_ago(30), text=CERVICAL_LEVEL)
    relief = (block_relief(first, 85), block_relief(second, 90))
    controlled = record(cgh("provisional"), procedures=(*pt, gon, first, second), observations=(*obs, *relief))
    assert "refractory-options" in run(controlled)
    gon_only = record(
        cgh("provisional"), procedures=(*pt, gon, first), observations=(*obs, block_relief(gon, 100))
    )
    assert "refractory-options" not in run(gon_only)


def test_refractory_options_suppressed_for_unconfirmed_diagnosis() -> None:
    pt, obs = adequate_failed_trial()
    done = (*pt, procedure(GON_BLOCK, days_ago(60)), procedure(FACET_INJECTION, days_ago(30), text=CERVICAL_LEVEL))
    assert "refractory-options" not in run(record(cgh("provisional"), procedures=done, observations=obs))


# ------------------------------------------------------------------------------------------------ R4 / R4b


def test_imaging_not_indicated_without_red_flags_proposes_pt() -> None:
    mri = service_request(MRI_CSPINE)
    head = service_request(MRI_BRAIN)
    item = sign(mri, head)["imaging-not-indicated"]
    assert item.indicator is Indicator.WARNING and item.orders == (mri.ref, head.ref)
    assert item.suggestions == (SuggestionKind.DELETE_ORDERS, SuggestionKind.CREATE_PT_REFERRAL)
    assert item.notes == ("no-pt-yet",) and item.reason_ref is not None


def test_imaging_not_indicated_with_pt_only_deletes() -> None:
    item = sign(service_request(MRI_CSPINE), procedures=pt_course([days_ago(3)]))["imaging-not-indicated"]
    assert item.suggestions == (SuggestionKind.DELETE_ORDERS,) and item.notes == ()


def test_imaging_not_indicated_never_with_a_red_flag() -> None:
    advice = sign(service_request(MRI_CSPINE), conditions=(cgh(), condition(FEVER)))
    assert "imaging-not-indicated" not in advice
    assert advice["imaging-red-flag-appropriate"].indicator is Indicator.INFO


def test_imaging_red_flag_appropriate_pregnancy_and_vascular_notes() -> None:
    conditions = (cgh(onset=weeks_ago(3)), condition(PREGNANT_INCIDENTAL))
    item = sign(service_request(CTA_NECK), conditions=conditions)["imaging-red-flag-appropriate"]
    # revision-2 C09: a new headache in pregnancy calls for MRI, so the drafted CTA is not the preferred study.
    assert item.notes == ("preferred-study", "mri-flags", "pregnancy-mri")
    assert item.facts["preferred_study"] == "MRI (with contrast as indicated)"


def test_imaging_red_flag_appropriate_suppressed_without_imaging_order() -> None:
    assert "imaging-red-flag-appropriate" not in sign(
        medication_request(OXYCODONE), conditions=(cgh(), condition(FEVER))
    )


# ------------------------------------------------------------------------------------------------ R7 / R7b


def test_manipulation_contraindicated_critical_for_instability() -> None:
    order = service_request(CHIRO_MANIPULATION)
    item = sign(order, conditions=(cgh(), condition(OCCIPITO_ATLANTO_AXIAL_INSTABILITY), condition(OSTEOPOROSIS)))[
        "manipulation-contraindicated"
    ]
    assert item.indicator is Indicator.CRITICAL and item.notes == ("absolute",)
    assert item.facts["reasons"] == "upper cervical instability, osteoporosis"
    assert item.suggestions == (SuggestionKind.REPLACE_WITH_PT_REFERRAL,)


def test_manipulation_contraindicated_warning_for_anticoagulation() -> None:
    item = sign(
        service_request(CHIRO_MANIPULATION_SNOMED), medication_requests=[medication_request(APIXABAN, status="active")]
    )["manipulation-contraindicated"]
    assert item.indicator is Indicator.WARNING and item.notes == ("relative",)
    assert item.facts["reasons"] == "anticoagulation"


def test_manipulation_contraindicated_by_red_flag_alone_is_a_warning() -> None:
    item = sign(service_request(CHIRO_MANIPULATION), conditions=(cgh(), condition(FEVER)))[
        "manipulation-contraindicated"
    ]
    assert item.indicator is Indicator.WARNING


def test_manipulation_with_vascular_imaging_drafted_is_critical() -> None:
    item = sign(service_request(CHIRO_MANIPULATION), service_request(CTA_NECK))["manipulation-contraindicated"]
    assert item.indicator is Indicator.CRITICAL


def test_manipulation_risk_without_contraindication() -> None:
    advice = sign(service_request(CHIRO_MANIPULATION))
    assert "manipulation-risk" in advice and "manipulation-contraindicated" not in advice


def test_manipulation_risk_suppressed_with_contraindication() -> None:
    advice = sign(service_request(CHIRO_MANIPULATION), conditions=(cgh(), condition(OSTEOPOROSIS)))
    assert "manipulation-risk" not in advice and "manipulation-contraindicated" in advice


# ------------------------------------------------------------------------------------------------ R8 / R8b


def test_medication_opioid_warning() -> None:
    assert sign(medication_request(OXYCODONE))["medication-opioid"].indicator is Indicator.WARNING


def test_medication_opioid_suppressed_for_non_opioids() -> None:
    assert "medication-opioid" not in sign(medication_request(ACETAMINOPHEN))


def test_medication_symptomatic_only_info() -> None:
    item = sign(medication_request(IBUPROFEN), medication_request(ACETAMINOPHEN))["medication-symptomatic-only"]
    assert item.indicator is Indicator.INFO and len(item.orders) == 2


@pytest.mark.parametrize("weeks, indicator", [(19, Indicator.INFO), (20, Indicator.WARNING)])
def test_medication_symptomatic_only_nsaid_in_pregnancy_from_20_weeks(weeks: int, indicator: Indicator) -> None:
    item = sign(medication_request(IBUPROFEN), conditions=(cgh(), condition(gestation(weeks), recorded=TODAY)))[
        "medication-symptomatic-only"
    ]
    assert item.indicator is indicator
    if indicator is Indicator.WARNING:
        assert item.notes == ("nsaid-pregnancy",) and item.facts["gest_weeks"] == "20"


def test_paracetamol_in_late_pregnancy_stays_info() -> None:
    item = sign(medication_request(ACETAMINOPHEN), conditions=(cgh(), condition(gestation(30), recorded=TODAY)))[
        "medication-symptomatic-only"
    ]
    assert item.indicator is Indicator.INFO


def test_medication_symptomatic_only_suppressed_for_opioid_combination() -> None:
    combination = medication_request(text="Acetaminophen/Hydrocodone")
    advice = sign(combination)
    assert "medication-opioid" in advice and "medication-symptomatic-only" not in advice


# ------------------------------------------------------------------------------------------------ R9b/R10b/R11b


def test_escalation_premature_gon_block_without_adequate_trial() -> None:
    item = sign(service_request(GON_BLOCK), procedures=pt_course(weekly_sessions(6, weeks_ago(7))))[
        "escalation-premature"
    ]
    assert item.notes == ("gon-block",)
    assert item.facts["missing"] == "an adequate PT trial (6 sessions over 8 weeks of treatment)"


def test_escalation_premature_suppressed_for_gon_block_after_adequate_trial() -> None:
    assert "escalation-premature" not in sign(
        service_request(GON_BLOCK), procedures=pt_course(weekly_sessions(8, weeks_ago(8)))
    )


def test_escalation_premature_lists_every_early_order_on_one_advice() -> None:
    block, facet, rf, botox = (
        service_request(GON_BLOCK),
        service_request(FACET_INJECTION),
        service_request(RF_NEUROTOMY),
        medication_request(BOTOX_HCPCS),
    )
    item = sign(block, facet, rf, botox)["escalation-premature"]
    assert item.orders == (block.ref, facet.ref, rf.ref, botox.ref)
    assert item.notes == ("gon-block", "percutaneous", "refractory")
    assert item.facts["missing"].count("adequate PT trial") == 1


def test_escalation_premature_percutaneous_needs_gon_block() -> None:
    pt = pt_course(weekly_sessions(8, weeks_ago(10)))
    item = sign(service_request(FACET_INJECTION), procedures=pt)["escalation-premature"]
    assert item.facts["missing"] == "a greater occipital nerve block"
    ready = (*pt, procedure(GON_BLOCK, days_ago(10)))
    assert "escalation-premature" not in sign(service_request(FACET_INJECTION), procedures=ready)


def test_escalation_premature_refractory_suppressed_when_confirmed_after_step_three() -> None:
    done = (procedure(FACET_INJECTION, days_ago(10), text=CERVICAL_LEVEL),)
    assert "escalation-premature" not in sign(service_request(RF_NEUROTOMY), procedures=done)


# ------------------------------------------------------------------------------------------------ R11c


def test_botulinum_pregnancy_warning() -> None:
    item = sign(service_request(BOTOX_PROCEDURE), conditions=(cgh(), condition(PREGNANT_INCIDENTAL)))[
        "botulinum-pregnancy"
    ]
    assert item.indicator is Indicator.WARNING
    assert "pregnancy" in {t.role for t in item.triggers}


def test_botulinum_pregnancy_suppressed_when_not_pregnant() -> None:
    assert "botulinum-pregnancy" not in sign(service_request(BOTOX_PROCEDURE))


# ------------------------------------------------------------------------------------------------ cross-cutting


def test_order_select_judges_selections_only() -> None:
    mri, opioid = service_request(MRI_CSPINE), medication_request(OXYCODONE)
    advice = run(record(cgh(), drafts=[mri, opioid], selections=[opioid.ref]), Moment.ORDER_SELECT)
    assert set(advice) == {"medication-opioid"}


def test_advice_is_sorted_most_urgent_first() -> None:
    advice = evaluate(
        record(
            cgh(),
            condition(FEVER),
            drafts=[
                service_request(CHIRO_MANIPULATION),
                medication_request(OXYCODONE),
                medication_request(IBUPROFEN),
                service_request(CT_CSPINE),
            ],
        ),
        Moment.ORDER_SIGN,
        TODAY,
    )
    ranks = [item.indicator.rank for item in advice]
    assert ranks == sorted(ranks, reverse=True)
    assert [item.recommendation for item in advice] == [
        R.RED_FLAGS,
        R.MANIPULATION_CONTRAINDICATED,
        R.MEDICATION_OPIOID,
        R.IMAGING_RED_FLAG_APPROPRIATE,
        R.MEDICATION_SYMPTOMATIC_ONLY,
    ]


def test_triggers_carry_labels_and_dates() -> None:
    item = run(record(cgh(onset=date(2025, 3, 1))))["pt-first-line"]
    (trigger,) = item.triggers
    assert (trigger.role, trigger.label, trigger.when) == ("diagnosis", "Cervicogenic headache", date(2025, 3, 1))


# ------------------------------------------------------------------------------------------------ never do


ESCALATIONS = {"escalate-occipital-nerve-block", "escalate-percutaneous", "refractory-options"}


def test_never_escalate_without_an_adequate_trial() -> None:
    obs = (headache_days(date(2025, 2, 5), 12), headache_days(date(2025, 5, 1), 12))
    r = record(cgh(), procedures=pt_course(weekly_sessions(5, weeks_ago(12))), observations=obs)
    assert not ESCALATIONS & set(run(r))


def test_never_escalate_without_documented_inadequate_response() -> None:
    r = record(
        cgh(),
        procedures=(
            *pt_course(weekly_sessions(12, weeks_ago(14))),
            procedure(GON_BLOCK, days_ago(30)),
            procedure(FACET_INJECTION, days_ago(10)),
        ),
    )
    advice = run(r)
    assert not ESCALATIONS & set(advice) and "pt-document-response" in advice


def test_never_imaging_not_indicated_with_any_red_flag_kind() -> None:
    for flag in (condition(FEVER), condition(VERTEBRAL_DISSECTION)):
        assert "imaging-not-indicated" not in sign(service_request(MRI_CSPINE), conditions=(cgh(), flag))
    # revision-2 C07: a drafted CTA is not a red flag; it is never discouraged, the MRI beside it is judged alone.
    cta = service_request(CTA_NECK)
    beside = sign(service_request(MRI_CSPINE), cta)
    assert cta.ref not in beside["imaging-not-indicated"].orders and "red-flags" not in beside
    old = (cgh(onset=days_ago(60)),)
    assert "imaging-not-indicated" not in sign(service_request(MRI_CSPINE), conditions=old, age=72)
