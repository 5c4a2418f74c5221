"""Revision-2 C13-C18 (differentials, refuted CGH, structured block evidence, escalation checks, toxin orders).

Each test names the change it pins. Records are built directly (tests/unit/pathway/builders.py); today is
2025-06-01 as in every reference scenario.
"""

from __future__ import annotations

from datetime import date
from datetime import timedelta

import pytest

from service.fhir.record import PatientRecord
from service.pathway import Advice
from service.pathway import Indicator
from service.pathway import Moment
from service.pathway import PathwayThresholds
from service.pathway import evaluate
from service.pathway.facts import MEDICATION_OVERUSE
from service.pathway.facts import MIGRAINE as MIGRAINE_CATEGORY
from service.pathway.facts import derive_facts
from service.pathway.facts import diagnosis
from service.pathway.facts import diagnostic_blocks
from service.pathway.facts import differentials
from service.pathway.facts import has_cervical_site
from service.pathway.facts import outcome
from service.pathway.facts import pt_trial
from service.pathway.facts import steps
from service.pathway.terminology import ValueSetId as VS
from service.pathway.terminology import value_set
from tests.unit.pathway.builders import BLOCK_POSITIVE
from tests.unit.pathway.builders import BLOCK_RELIEF
from tests.unit.pathway.builders import BOTOX_HCPCS
from tests.unit.pathway.builders import BOTOX_PROCEDURE
from tests.unit.pathway.builders import CERVICAL_EPIDURAL
from tests.unit.pathway.builders import CERVICAL_LEVEL
from tests.unit.pathway.builders import CERVICALGIA
from tests.unit.pathway.builders import CGH
from tests.unit.pathway.builders import CGH_LEGACY_OTHER_HEADACHE
from tests.unit.pathway.builders import CHRONIC_MIGRAINE
from tests.unit.pathway.builders import CHRONIC_MIGRAINE_SNOMED
from tests.unit.pathway.builders import CHRONIC_MIGRAINE_WITH_AURA
from tests.unit.pathway.builders import FACET_INJECTION
from tests.unit.pathway.builders import GON_BLOCK
from tests.unit.pathway.builders import HEADACHE
from tests.unit.pathway.builders import MEDIAL_BRANCH_BLOCK
from tests.unit.pathway.builders import MEDICATION_OVERUSE as MOH
from tests.unit.pathway.builders import MIGRAINE
from tests.unit.pathway.builders import MIGRAINE_SNOMED_GENERAL
from tests.unit.pathway.builders import ORTHOSTATIC_HYPOTENSION
from tests.unit.pathway.builders import PREGNANT_INCIDENTAL
from tests.unit.pathway.builders import PT_EXERCISE
from tests.unit.pathway.builders import RESPONSE_INADEQUATE
from tests.unit.pathway.builders import RF_NEUROTOMY
from tests.unit.pathway.builders import SIH
from tests.unit.pathway.builders import TODAY
from tests.unit.pathway.builders import TREATMENT_RESPONSE
from tests.unit.pathway.builders import adequate_failed_trial
from tests.unit.pathway.builders import block_relief
from tests.unit.pathway.builders import by_id
from tests.unit.pathway.builders import cgh
from tests.unit.pathway.builders import condition
from tests.unit.pathway.builders import days_ago
from tests.unit.pathway.builders import headache_days
from tests.unit.pathway.builders import medication_request
from tests.unit.pathway.builders import observation
from tests.unit.pathway.builders import procedure
from tests.unit.pathway.builders import record
from tests.unit.pathway.builders import service_request

LIMITS = PathwayThresholds()
INFO, WARNING = Indicator.INFO, Indicator.WARNING
#: The CPT descriptor of 64490 as EHRs send it as the procedure's name.
DESCRIPTOR = "Injection, paravertebral facet joint, with image guidance, cervical or thoracic; single level"


def run(r: PatientRecord, moment: Moment = Moment.RECORD_REVIEW, today: date = TODAY) -> dict[str, Advice]:
    return by_id(evaluate(r, moment, today))


# ------------------------------------------------------------------------------------------------ C13 / C14


def test_c13_medication_overuse_headache_is_a_warning_differential() -> None:
    item = run(record(cgh(), condition(MOH)))["differential-diagnosis"]
    assert item.indicator is WARNING and item.notes == ("medication-overuse",)
    assert [f.category for f in differentials(record(condition(MOH)), TODAY)] == [MEDICATION_OVERUSE]


def test_c13_medication_overuse_headache_not_when_resolved_or_refuted() -> None:
    for resolved in (condition(MOH, clinical="resolved"), condition(MOH, verification="refuted")):
        assert "differential-diagnosis" not in run(record(cgh(), resolved))


def test_c13_with_sih_keeps_both_notes_orthostatic_first() -> None:
    item = run(record(cgh(), condition(SIH), condition(MOH), condition(MIGRAINE)))["differential-diagnosis"]
    assert item.notes == ("orthostatic", "medication-overuse", "migraine")


@pytest.mark.parametrize("coding", [MIGRAINE_SNOMED_GENERAL, CHRONIC_MIGRAINE_SNOMED, CHRONIC_MIGRAINE_WITH_AURA])
def test_c14_migraine_by_snomed_and_current_icd10cm(coding: object) -> None:
    item = run(record(cgh(), condition(coding)))["differential-diagnosis"]  # type: ignore[arg-type]
    assert (item.indicator, item.notes) == (INFO, ("migraine",))
    assert differentials(record(condition(coding)), TODAY)[0].category == MIGRAINE_CATEGORY  # type: ignore[arg-type]


def test_c14_other_hypotension_is_not_orthostatic_hypotension() -> None:
    vs = value_set(VS.DIFFERENTIAL_ORTHOSTATIC_HYPOTENSION)
    assert vs.contains(ORTHOSTATIC_HYPOTENSION)
    assert [entry.code for entry in vs.entries()] == ["I95.1"]


# ------------------------------------------------------------------------------------------------ C15


def test_c15_refuted_cgh_wins_over_headache_and_neck_codes() -> None:
    refuted = condition(CGH, verification="refuted", recorded=days_ago(30))
    r = record(refuted, condition(HEADACHE), condition(CERVICALGIA), condition(CGH_LEGACY_OTHER_HEADACHE))
    assert not diagnosis(r, TODAY).active
    assert run(r) == {}


def test_c15_a_later_non_refuted_cgh_overrules_the_refutation() -> None:
    refuted = condition(CGH, verification="refuted", recorded=days_ago(400))
    later = condition(CGH, verification="provisional", onset=days_ago(30))
    result = diagnosis(record(refuted, later, condition(HEADACHE), condition(CERVICALGIA)), TODAY)
    assert result.suspected and "headache with a cervical disorder" in result.basis


def test_c15_an_earlier_or_undated_cgh_does_not_overrule_it() -> None:
    refuted = condition(CGH, verification="refuted", recorded=days_ago(30))
    earlier = condition(CGH, verification="confirmed", onset=days_ago(700))
    undated = condition(CGH, verification="confirmed")
    assert not diagnosis(record(refuted, earlier), TODAY).active
    assert not diagnosis(record(refuted, undated, condition(HEADACHE), condition(CERVICALGIA)), TODAY).active


def test_c15_entered_in_error_neither_counts_nor_refutes() -> None:
    mistaken = condition(CGH, verification="entered-in-error", recorded=days_ago(30))
    result = diagnosis(record(mistaken, condition(HEADACHE), condition(CERVICALGIA)), TODAY)
    assert result.suspected and not result.confirmed


# ------------------------------------------------------------------------------------------------ C16


def test_c16_relief_counts_when_linked_by_part_of_or_dated_the_same_day() -> None:
    block = procedure(GON_BLOCK, days_ago(20))
    linked = diagnostic_blocks(record(procedures=[block], observations=[block_relief(block, 60)]), TODAY, LIMITS)
    same_day = diagnostic_blocks(
        record(procedures=[block], observations=[block_relief(block, 60, linked=False)]), TODAY, LIMITS
    )
    assert linked.supporting == (block,) and same_day.supporting == (block,)
    assert not linked.confirms


def test_c16_relief_of_another_day_or_another_procedure_does_not_count() -> None:
    block = procedure(GON_BLOCK, days_ago(20))
    other_day = observation(BLOCK_RELIEF, days_ago(19), 90, unit="%")
    other_block = observation(BLOCK_RELIEF, days_ago(20), 90, unit="%", part_of=("Procedure/elsewhere",))
    r = record(procedures=[block], observations=[other_day, other_block])
    assert not diagnostic_blocks(r, TODAY, LIMITS).supports


@pytest.mark.parametrize(
    ("value", "unit"),
    [(49.0, "%"), (80.0, None), (80.0, "d/mo"), (800.0, "%"), (float("nan"), "%"), (None, "%")],
)
def test_c16_relief_must_be_a_percentage_at_the_threshold(value: float | None, unit: str | None) -> None:
    block = procedure(GON_BLOCK, days_ago(20))
    relief = observation(BLOCK_RELIEF, block.performed, value, unit=unit, part_of=(block.ref,))
    assert not diagnostic_blocks(record(procedures=[block], observations=[relief]), TODAY, LIMITS).supports


def test_c16_free_text_and_coded_positive_never_count() -> None:
    """issue 9: "no relief ... pain 100 %" was read as a positive block; notes and outcomes never count."""
    noted = procedure(
        MEDIAL_BRANCH_BLOCK, days_ago(20), text=CERVICAL_LEVEL, notes=["no relief, pain 100 %", "85% relief"]
    )
    coded = procedure(GON_BLOCK, days_ago(20), outcome=[BLOCK_POSITIVE])
    text_only = observation(BLOCK_RELIEF, days_ago(20), None, value_text="relief 100%", part_of=(noted.ref,))
    r = record(procedures=[noted, coded], observations=[text_only])
    assert diagnostic_blocks(r, TODAY, LIMITS) == diagnostic_blocks(record(), TODAY, LIMITS)


def test_c16_controlled_cervical_medial_branch_blocks_confirm() -> None:
    first = procedure(MEDIAL_BRANCH_BLOCK, days_ago(60), text=CERVICAL_LEVEL)
    second = procedure(MEDIAL_BRANCH_BLOCK, days_ago(30), text=CERVICAL_LEVEL)
    both = record(procedures=[first, second], observations=[block_relief(first, 80), block_relief(second, 95)])
    assert diagnostic_blocks(both, TODAY, LIMITS).confirms
    one_low = record(procedures=[first, second], observations=[block_relief(first, 79), block_relief(second, 95)])
    assert not diagnostic_blocks(one_low, TODAY, LIMITS).confirms
    assert diagnostic_blocks(one_low, TODAY, LIMITS).supports


def test_c16_medial_branch_blocks_without_a_cervical_site_do_not_confirm() -> None:
    first = procedure(MEDIAL_BRANCH_BLOCK, days_ago(60), text=DESCRIPTOR)
    second = procedure(MEDIAL_BRANCH_BLOCK, days_ago(30), text="Thoracic medial branch block T4-T5")
    r = record(procedures=[first, second], observations=[block_relief(first, 90), block_relief(second, 90)])
    assert not diagnostic_blocks(r, TODAY, LIMITS).supports


def test_c16_two_gon_blocks_never_confirm() -> None:
    first, second = procedure(GON_BLOCK, days_ago(60)), procedure(GON_BLOCK, days_ago(30))
    r = record(procedures=[first, second], observations=[block_relief(first, 100), block_relief(second, 100)])
    blocks = diagnostic_blocks(r, TODAY, LIMITS)
    assert blocks.supports and not blocks.confirms


def test_c16_gon_relief_does_not_unlock_refractory_options_or_silence_the_confirm_card() -> None:
    pt, obs = adequate_failed_trial()
    gon = procedure(GON_BLOCK, days_ago(60))
    facet = procedure(FACET_INJECTION, days_ago(30), text=CERVICAL_LEVEL)
    advice = run(record(cgh("provisional"), procedures=(*pt, gon, facet), observations=(*obs, block_relief(gon, 90))))
    assert "refractory-options" not in advice
    assert advice["suspected-confirm-diagnosis"].notes == ("block-supports",)


# ------------------------------------------------------------------------------------------------ C17


def test_c17_cervical_site_from_the_record_not_from_the_descriptor() -> None:
    assert has_cervical_site(procedure(FACET_INJECTION, days_ago(1), text=CERVICAL_LEVEL))
    assert not has_cervical_site(procedure(FACET_INJECTION, days_ago(1), text=DESCRIPTOR))
    assert not has_cervical_site(procedure(CERVICAL_EPIDURAL, days_ago(1), text="Thoracic epidural T7-T8"))


def test_c17_thoracic_or_undocumented_site_is_not_the_percutaneous_step() -> None:
    thoracic = procedure(CERVICAL_EPIDURAL, days_ago(60), text="Interlaminar epidural steroid injection T7-T8")
    undocumented = procedure(FACET_INJECTION, days_ago(60), text=DESCRIPTOR)
    assert not steps(record(procedures=[thoracic, undocumented]), TODAY, LIMITS).step3_done
    cervical = procedure(CERVICAL_EPIDURAL, days_ago(60), text="Cervical interlaminar epidural C6-C7")
    assert steps(record(procedures=[cervical]), TODAY, LIMITS).step3_done


def test_c17_earlier_steps_count_within_24_months_only() -> None:
    old_block = procedure(GON_BLOCK, days_ago(800))
    recent = procedure(GON_BLOCK, days_ago(700))
    assert not steps(record(procedures=[old_block]), TODAY, LIMITS).step2_done
    assert not steps(record(procedures=[procedure(GON_BLOCK, None)]), TODAY, LIMITS).step2_done
    assert steps(record(procedures=[recent]), TODAY, LIMITS).step2_done


def test_c17_2018_thoracic_epidural_does_not_unlock_refractory_steps() -> None:
    """issue 9: a 2018 thoracic epidural counted as the percutaneous step."""
    pt, obs = adequate_failed_trial()
    gon = procedure(GON_BLOCK, days_ago(60))
    epidural = procedure(CERVICAL_EPIDURAL, date(2018, 5, 2), text="Cervical interlaminar epidural C6-C7")
    advice = run(record(cgh(), procedures=(*pt, gon, epidural), observations=obs))
    assert "escalate-percutaneous" in advice and "refractory-options" not in advice


@pytest.mark.parametrize(("follow_up", "has_data"), [(date(2024, 11, 30), False), (date(2024, 12, 1), True)])
def test_c17_the_response_is_the_latest_follow_up_within_6_months(follow_up: date, has_data: bool) -> None:
    trial = tuple(procedure(PT_EXERCISE, date(2024, 8, 1) + timedelta(weeks=week)) for week in range(10))
    frequency = (headache_days(date(2024, 7, 20), 12), headache_days(follow_up, 11))
    explicit = observation(TREATMENT_RESPONSE, follow_up, value_coding=RESPONSE_INADEQUATE)
    for observations in (frequency, (explicit,)):
        r = record(cgh(), procedures=trial, observations=observations)
        assert outcome(r, pt_trial(r, TODAY, LIMITS), TODAY, LIMITS).has_data is has_data


def test_c17_gon_order_after_an_adequate_response_is_premature() -> None:
    """issue 9: a GON order after a good response was silent."""
    pt, obs = adequate_failed_trial(reduction_to=5.0)
    block = service_request(GON_BLOCK)
    item = run(record(cgh(), procedures=pt, observations=obs, drafts=[block]), Moment.ORDER_SIGN)[
        "escalation-premature"
    ]
    assert item.indicator is WARNING and item.notes == ("current-step-working",)
    assert item.orders == (block.ref,) and item.facts["latest_response"].startswith("58% reduction")


def test_c17_gon_order_after_an_inadequate_response_is_on_time() -> None:
    pt, obs = adequate_failed_trial()
    advice = run(record(cgh(), procedures=pt, observations=obs, drafts=[service_request(GON_BLOCK)]), Moment.ORDER_SIGN)
    assert "escalation-premature" not in advice


def test_c17_rf_order_after_working_percutaneous_step_is_premature() -> None:
    pt, obs = adequate_failed_trial(reduction_to=4.0)
    done = (*pt, procedure(GON_BLOCK, days_ago(90)), procedure(FACET_INJECTION, days_ago(60), text=CERVICAL_LEVEL))
    rf = service_request(RF_NEUROTOMY)
    item = run(record(cgh(), procedures=done, observations=obs, drafts=[rf]), Moment.ORDER_SIGN)["escalation-premature"]
    assert item.notes == ("current-step-working",)


# ------------------------------------------------------------------------------------------------ C18


@pytest.mark.parametrize("reason", [CHRONIC_MIGRAINE, CHRONIC_MIGRAINE_WITH_AURA, MIGRAINE])
def test_c18_toxin_ordered_for_another_condition_is_no_cgh_escalation(reason: object) -> None:
    toxin = service_request(BOTOX_PROCEDURE, reason_codings=[reason])  # type: ignore[list-item]
    r = record(cgh(), condition(PREGNANT_INCIDENTAL), drafts=[toxin])
    advice = run(r, Moment.ORDER_SIGN)
    assert "escalation-premature" not in advice and "pt-first-line" not in advice
    assert advice["botulinum-pregnancy"].indicator is WARNING


def test_c18_reason_by_reference_to_a_condition() -> None:
    migraine = condition(CHRONIC_MIGRAINE)
    toxin = service_request(BOTOX_PROCEDURE, reason_refs=[migraine.ref])
    assert "escalation-premature" not in run(record(cgh(), migraine, drafts=[toxin]), Moment.ORDER_SIGN)


@pytest.mark.parametrize("reasons", [[], [CGH], [CERVICALGIA], [CHRONIC_MIGRAINE, CGH]])
def test_c18_toxin_for_cgh_or_without_a_coded_reason_stays_an_escalation(reasons: list[object]) -> None:
    toxin = service_request(BOTOX_PROCEDURE, reason_codings=reasons, text="for chronic migraine")  # type: ignore[arg-type]
    advice = run(record(cgh(), drafts=[toxin]), Moment.ORDER_SIGN)
    assert advice["escalation-premature"].notes == ("refractory",)
    assert advice["pt-first-line"].notes == ("escalation-ordered",)


def test_c18_active_chronic_migraine_without_confirmed_cgh() -> None:
    drafts = [medication_request(BOTOX_HCPCS)]
    suspected = record(condition(CGH_LEGACY_OTHER_HEADACHE), condition(CHRONIC_MIGRAINE_SNOMED), drafts=drafts)
    assert derive_facts(suspected, Moment.ORDER_SIGN, TODAY).not_for_cgh == {drafts[0].ref}
    advice = run(suspected, Moment.ORDER_SIGN)
    assert "escalation-premature" not in advice and "pt-first-line" not in advice
    confirmed = record(cgh(), condition(CHRONIC_MIGRAINE_SNOMED), drafts=drafts)
    assert "escalation-premature" in run(confirmed, Moment.ORDER_SIGN)
    resolved = record(
        condition(CGH_LEGACY_OTHER_HEADACHE), condition(CHRONIC_MIGRAINE, clinical="resolved"), drafts=drafts
    )
    assert "escalation-premature" in run(resolved, Moment.ORDER_SIGN)
