"""The reference scenarios S01-S21 (docs/clinical/reference.md §4) at the pathway level: records built directly,
today 2025-06-01.

Each test asserts the EXPECT cards (id and indicator) and the absence of the NOT cards. Where a scenario
names a hook the brief routes elsewhere (R12 only on record review; R5 on order hooks only for an
escalation), the test says so.
"""

from __future__ import annotations

from datetime import date

import pytest

from service.fhir.coding import ICD10CM
from service.fhir.record import PatientRecord
from service.pathway import Advice
from service.pathway import Indicator
from service.pathway import Moment
from service.pathway import SuggestionKind
from service.pathway import evaluate
from service.pathway.terminology import ValueSetId as VS
from tests.unit.pathway.builders import ANTICOAGULANT_USE
from tests.unit.pathway.builders import APIXABAN
from tests.unit.pathway.builders import BOTOX_HCPCS
from tests.unit.pathway.builders import BOTOX_PROCEDURE
from tests.unit.pathway.builders import CERVICAL_LEVEL
from tests.unit.pathway.builders import CERVICAL_SPONDYLOSIS
from tests.unit.pathway.builders import CERVICALGIA
from tests.unit.pathway.builders import CGH_LEGACY_CERVICOCRANIAL_DOTLESS
from tests.unit.pathway.builders import CGH_LEGACY_OTHER_HEADACHE
from tests.unit.pathway.builders import CHIRO_MANIPULATION
from tests.unit.pathway.builders import CHIRO_MANIPULATION_SNOMED
from tests.unit.pathway.builders import CT_CSPINE
from tests.unit.pathway.builders import CTA_NECK
from tests.unit.pathway.builders import CTA_NECK_LOINC
from tests.unit.pathway.builders import DIPLOPIA
from tests.unit.pathway.builders import FACET_INJECTION
from tests.unit.pathway.builders import FEVER
from tests.unit.pathway.builders import GON_BLOCK
from tests.unit.pathway.builders import HEADACHE
from tests.unit.pathway.builders import HEADACHE_PRE_2021
from tests.unit.pathway.builders import IBUPROFEN
from tests.unit.pathway.builders import MARFAN
from tests.unit.pathway.builders import MIGRAINE
from tests.unit.pathway.builders import MRI_CSPINE
from tests.unit.pathway.builders import MRI_CSPINE_LOINC
from tests.unit.pathway.builders import OCCIPITO_ATLANTO_AXIAL_INSTABILITY
from tests.unit.pathway.builders import ORTHOSTATIC_HEADACHE
from tests.unit.pathway.builders import OSTEOPOROSIS
from tests.unit.pathway.builders import OXYCODONE
from tests.unit.pathway.builders import PREGNANT_INCIDENTAL
from tests.unit.pathway.builders import PT_EVAL
from tests.unit.pathway.builders import PT_EXERCISE
from tests.unit.pathway.builders import PT_MANUAL
from tests.unit.pathway.builders import PT_NEURO
from tests.unit.pathway.builders import RHEUMATOID_ARTHRITIS
from tests.unit.pathway.builders import SIH
from tests.unit.pathway.builders import SUMATRIPTAN
from tests.unit.pathway.builders import TODAY
from tests.unit.pathway.builders import VERTEBRAL_DISSECTION
from tests.unit.pathway.builders import WHIPLASH_SPRAIN
from tests.unit.pathway.builders import block_relief
from tests.unit.pathway.builders import born_years_ago
from tests.unit.pathway.builders import by_id
from tests.unit.pathway.builders import cgh
from tests.unit.pathway.builders import condition
from tests.unit.pathway.builders import days_ago
from tests.unit.pathway.builders import family
from tests.unit.pathway.builders import gestation
from tests.unit.pathway.builders import headache_days
from tests.unit.pathway.builders import medication_request
from tests.unit.pathway.builders import procedure
from tests.unit.pathway.builders import pt_course
from tests.unit.pathway.builders import record
from tests.unit.pathway.builders import service_request

INFO, WARNING, CRITICAL = Indicator.INFO, Indicator.WARNING, Indicator.CRITICAL
ORDER_HOOKS = [Moment.ORDER_SELECT, Moment.ORDER_SIGN]


def cards(r: PatientRecord, moment: Moment = Moment.RECORD_REVIEW) -> dict[str, Advice]:
    return by_id(evaluate(r, moment, TODAY))


def expect(result: dict[str, Advice], present: dict[str, Indicator], absent: set[str] = frozenset()) -> None:
    for rec, indicator in present.items():
        assert rec in result, f"{rec} missing from {sorted(result)}"
        assert result[rec].indicator is indicator, (rec, result[rec].indicator)
    assert not absent & set(result), f"unexpected {sorted(absent & set(result))}"


def order_hook(
    r_conditions: tuple[object, ...], orders: list[object], moment: Moment, **kw: object
) -> dict[str, Advice]:
    """The orders drafted; at order-select every one of them is selected."""
    refs = [o.ref for o in orders]  # type: ignore[attr-defined]
    r = record(*r_conditions, drafts=orders, selections=refs, **kw)  # type: ignore[arg-type]
    return cards(r, moment)


# PT from 2025-02-10 to 2025-04-28: 11 session-dates, two billing lines each (S03, S04, S05).
S03_PT_DATES = [date(2025, 2, 10) + (date(2025, 2, 17) - date(2025, 2, 10)) * week for week in range(10)] + [
    date(2025, 4, 28)
]


def s03_pt() -> tuple[object, ...]:
    return pt_course(S03_PT_DATES, (PT_EXERCISE, PT_MANUAL))


def test_s01_happy_path_new_cgh_no_pt() -> None:
    result = cards(record(cgh(onset=date(2025, 3, 1)), condition(CERVICALGIA), age=38))
    expect(
        result, {"pt-first-line": INFO}, {"suspected-confirm-diagnosis", "red-flags", "escalate-occipital-nerve-block"}
    )
    assert result["pt-first-line"].suggestions == (SuggestionKind.CREATE_PT_REFERRAL,)


def test_s02_pt_in_progress() -> None:
    visits = [date(2025, 5, 5), date(2025, 5, 12), date(2025, 5, 19), date(2025, 5, 26), date(2025, 5, 28)]
    procedures = (procedure(PT_EVAL, date(2025, 4, 20)), *pt_course(visits, (PT_EXERCISE, PT_MANUAL)))
    result = cards(record(cgh(), age=45, procedures=procedures))
    expect(result, {"pt-trial-in-progress": INFO}, {"pt-first-line", "escalate-occipital-nerve-block"})
    facts = result["pt-trial-in-progress"].facts
    assert (facts["pt_weeks"], facts["pt_sessions"]) == ("6", "6")


def test_s03_adequate_pt_inadequate_response_gon_block() -> None:
    obs = (headache_days(date(2025, 2, 5), 12), headache_days(date(2025, 5, 1), 9))
    result = cards(record(cgh(), age=41, procedures=s03_pt(), observations=obs))
    expect(result, {"escalate-occipital-nerve-block": INFO}, {"escalation-premature", "pt-document-response"})
    assert result["escalate-occipital-nerve-block"].suggestions == (SuggestionKind.CREATE_GON_BLOCK,)
    assert result["escalate-occipital-nerve-block"].facts["pt_sessions"] == "11"
    # The block ordered now is on time: no escalation-premature at order-sign.
    ordered = record(cgh(), age=41, procedures=s03_pt(), observations=obs, drafts=[service_request(GON_BLOCK)])
    expect(cards(ordered, Moment.ORDER_SIGN), {}, {"escalation-premature", "pt-first-line"})


def test_s04_after_gon_block_percutaneous() -> None:
    obs = (headache_days(date(2025, 2, 5), 12), headache_days(date(2025, 5, 20), 8))
    procedures = (*s03_pt(), procedure(GON_BLOCK, date(2025, 4, 15)))
    r = record(
        cgh(onset=days_ago(4 * 365)), condition(CERVICAL_SPONDYLOSIS), age=52, procedures=procedures, observations=obs
    )
    result = cards(r)
    expect(result, {"escalate-percutaneous": INFO}, {"red-flags", "escalate-occipital-nerve-block"})
    assert result["escalate-percutaneous"].facts["block_date"] == "2025-04-15"


def test_s05_refractory_with_confirmed_diagnosis() -> None:
    # revision-2 C17: the facet codes cover "cervical or thoracic"; the record names the cervical level.
    first = procedure(FACET_INJECTION, date(2025, 3, 4), text=CERVICAL_LEVEL)
    second = procedure(FACET_INJECTION, date(2025, 3, 25), text=CERVICAL_LEVEL)
    procedures = (*s03_pt(), procedure(GON_BLOCK, date(2025, 3, 1)), first, second)
    obs = (
        headache_days(date(2025, 2, 5), 14),
        block_relief(first, 85),
        block_relief(second, 90),
        headache_days(date(2025, 5, 20), 12),
    )
    result = cards(record(cgh(), age=47, procedures=procedures, observations=obs))
    expect(result, {"refractory-options": INFO}, {"escalate-percutaneous", "escalate-occipital-nerve-block"})


@pytest.mark.parametrize("moment", ORDER_HOOKS)
def test_s06_suspected_cgh_with_botox_order(moment: Moment) -> None:
    conditions = (condition(CGH_LEGACY_OTHER_HEADACHE, verification="provisional"), condition(CERVICALGIA))
    result = order_hook(conditions, [service_request(BOTOX_PROCEDURE), medication_request(BOTOX_HCPCS)], moment, age=35)
    expect(result, {"escalation-premature": WARNING, "pt-first-line": INFO}, {"refractory-options"})
    assert result["escalation-premature"].notes == ("refractory",)
    assert len(result["escalation-premature"].orders) == 2
    assert result["pt-first-line"].notes == ("escalation-ordered",)
    # R12 is a record-review card (brief): it shows on the chart, not at order-sign.
    expect(cards(record(*conditions, age=35)), {"suspected-confirm-diagnosis": INFO})  # type: ignore[arg-type]


@pytest.mark.parametrize("moment", ORDER_HOOKS)
def test_s07_mri_without_red_flags(moment: Moment) -> None:
    mri = service_request(MRI_CSPINE, MRI_CSPINE_LOINC)
    result = order_hook((cgh(),), [mri], moment, age=30)
    expect(result, {"imaging-not-indicated": WARNING}, {"imaging-red-flag-appropriate", "red-flags"})
    assert SuggestionKind.DELETE_ORDERS in result["imaging-not-indicated"].suggestions
    assert result["imaging-not-indicated"].orders == (mri.ref,)


@pytest.mark.parametrize("moment", ORDER_HOOKS)
def test_s08_suspected_vertebral_dissection(moment: Moment) -> None:
    conditions = (
        cgh("provisional", onset=days_ago(5)),
        condition(VERTEBRAL_DISSECTION, verification="provisional", onset=days_ago(5)),
        condition(DIPLOPIA, onset=days_ago(5)),
    )
    result = order_hook(conditions, [service_request(CTA_NECK, CTA_NECK_LOINC)], moment, age=39)
    expect(
        result,
        {"red-flags": CRITICAL, "imaging-red-flag-appropriate": INFO},
        {"imaging-not-indicated", "pt-first-line"},
    )
    assert set(result["red-flags"].notes) == {"dissection-suspected", "neurologic-deficit"}
    assert "vascular-imaging" in result["imaging-red-flag-appropriate"].notes


@pytest.mark.parametrize("moment", ORDER_HOOKS)
def test_s09_manipulation_on_apixaban(moment: Moment) -> None:
    conditions = (cgh(onset=days_ago(3 * 365)), condition(ANTICOAGULANT_USE))
    result = order_hook(
        conditions,
        [service_request(CHIRO_MANIPULATION)],
        moment,
        age=66,
        medication_requests=[medication_request(APIXABAN, status="active")],
    )
    expect(result, {"manipulation-contraindicated": WARNING}, {"manipulation-risk"})
    assert result["manipulation-contraindicated"].suggestions == (SuggestionKind.REPLACE_WITH_PT_REFERRAL,)


@pytest.mark.parametrize("ctd", ["Q79.62", "Q87.40"])
def test_s10a_manipulation_with_connective_tissue_disease(ctd: str) -> None:
    coding = MARFAN if ctd == "Q87.40" else family(VS.MANIPULATION_CONTRAINDICATIONS, ICD10CM, ctd)
    result = order_hook(
        (cgh(), condition(coding)), [service_request(CHIRO_MANIPULATION_SNOMED)], Moment.ORDER_SIGN, age=29
    )
    expect(result, {"manipulation-contraindicated": WARNING})
    assert result["manipulation-contraindicated"].facts["reasons"] == "connective tissue disease"


def test_s10b_manipulation_with_ra_and_upper_cervical_instability() -> None:
    conditions = (cgh(), condition(RHEUMATOID_ARTHRITIS), condition(OCCIPITO_ATLANTO_AXIAL_INSTABILITY))
    result = order_hook(conditions, [service_request(CHIRO_MANIPULATION_SNOMED)], Moment.ORDER_SIGN, age=58)
    expect(result, {"manipulation-contraindicated": CRITICAL})


def test_s11_older_adult_new_headache() -> None:
    conditions = (cgh("provisional", onset=date(2025, 4, 1)), condition(OSTEOPOROSIS))
    result = cards(record(*conditions, age=72))
    expect(result, {"red-flags": CRITICAL, "suspected-confirm-diagnosis": INFO}, {"pt-first-line"})
    assert result["red-flags"].notes == ("new-onset-older-adult",)
    with_manipulation = order_hook(conditions, [service_request(CHIRO_MANIPULATION)], Moment.ORDER_SIGN, age=72)
    expect(with_manipulation, {"manipulation-contraindicated": WARNING})


@pytest.mark.parametrize("moment", ORDER_HOOKS)
def test_s12_pregnancy(moment: Moment) -> None:
    conditions = (cgh(onset=days_ago(730)), condition(gestation(24), recorded=TODAY), condition(PREGNANT_INCIDENTAL))
    orders = [service_request(CT_CSPINE), medication_request(IBUPROFEN), service_request(BOTOX_PROCEDURE)]
    result = order_hook(conditions, orders, moment, age=31)
    expect(
        result,
        {
            "imaging-not-indicated": WARNING,
            "medication-symptomatic-only": WARNING,
            "botulinum-pregnancy": WARNING,
            "escalation-premature": WARNING,
        },
        {"red-flags", "imaging-red-flag-appropriate"},
    )
    assert result["medication-symptomatic-only"].facts["gest_weeks"] == "24"


@pytest.mark.parametrize("moment", ORDER_HOOKS)
def test_s12b_pregnancy_with_new_headache(moment: Moment) -> None:
    conditions = (cgh(onset=days_ago(21)), condition(gestation(24), recorded=TODAY), condition(PREGNANT_INCIDENTAL))
    result = order_hook(conditions, [service_request(CT_CSPINE)], moment, age=31)
    expect(result, {"red-flags": CRITICAL, "imaging-red-flag-appropriate": INFO}, {"imaging-not-indicated"})
    assert "pregnancy-new-headache" in result["red-flags"].notes
    assert "pregnancy-mri" in result["imaging-red-flag-appropriate"].notes


@pytest.mark.parametrize("orthostatic", [SIH, ORTHOSTATIC_HEADACHE])
def test_s13_orthostatic_headache_sih(orthostatic: object) -> None:
    result = cards(record(cgh("provisional"), condition(orthostatic), age=44))  # type: ignore[arg-type]
    expect(
        result,
        {"differential-diagnosis": WARNING},
        {"escalate-occipital-nerve-block", "escalate-percutaneous", "refractory-options"},
    )
    assert "orthostatic" in result["differential-diagnosis"].notes


def test_s14_coexisting_migraine() -> None:
    meds = [medication_request(SUMATRIPTAN, status="active")]
    result = cards(record(cgh(), condition(MIGRAINE), age=33, medication_requests=meds))
    expect(result, {"differential-diagnosis": INFO, "pt-first-line": INFO})
    assert result["differential-diagnosis"].notes == ("migraine",)
    signed = cards(
        record(cgh(), condition(MIGRAINE), age=33, drafts=[medication_request(SUMATRIPTAN)]), Moment.ORDER_SIGN
    )
    expect(signed, {}, {"medication-opioid", "medication-symptomatic-only"})


def test_s15_opioid_for_cgh() -> None:
    signed = cards(record(cgh(), age=50, drafts=[medication_request(OXYCODONE)]), Moment.ORDER_SIGN)
    expect(signed, {"medication-opioid": WARNING})
    # pt-first-line is a record-review card (order hooks show it only when an escalation is drafted).
    expect(cards(record(cgh(), age=50)), {"pt-first-line": INFO})


def test_s16_adolescent() -> None:
    result = cards(record(cgh("provisional"), condition(CERVICALGIA), age=16))
    expect(
        result,
        {"out-of-scope-pediatric": INFO},
        {"pt-first-line", "escalate-occipital-nerve-block", "escalate-percutaneous", "refractory-options"},
    )
    with_fever = cards(record(cgh("provisional"), condition(CERVICALGIA), condition(FEVER), age=16))
    expect(with_fever, {"red-flags": CRITICAL, "out-of-scope-pediatric": INFO})


def test_s17_recent_whiplash() -> None:
    conditions = (condition(WHIPLASH_SPRAIN, onset=date(2025, 5, 18)), condition(HEADACHE), condition(CERVICALGIA))
    result = order_hook(conditions, [service_request(CHIRO_MANIPULATION)], Moment.ORDER_SIGN, age=27)
    expect(result, {"red-flags": CRITICAL, "manipulation-contraindicated": CRITICAL}, {"pt-first-line"})
    assert "post-traumatic" in result["red-flags"].notes
    expect(cards(record(*conditions, age=27)), {"red-flags": CRITICAL}, {"pt-first-line"})  # type: ignore[arg-type]


@pytest.mark.parametrize("lines", [(PT_EXERCISE,), (PT_EXERCISE, PT_MANUAL, PT_NEURO)])
def test_s18_ten_sessions_in_five_weeks(lines: tuple[object, ...]) -> None:
    dates = [date(2025, 4, 27) + (date(2025, 4, 30) - date(2025, 4, 27)) * index for index in range(9)]
    dates.append(date(2025, 5, 31))
    obs = (headache_days(date(2025, 4, 20), 10), headache_days(date(2025, 5, 30), 9))
    result = cards(record(cgh(), age=40, procedures=pt_course(dates, lines), observations=obs))  # type: ignore[arg-type]
    expect(result, {"pt-trial-in-progress": INFO}, {"escalate-occipital-nerve-block"})
    assert result["pt-trial-in-progress"].facts["pt_sessions"] == "10"
    assert result["pt-trial-in-progress"].facts["pt_weeks"] == "5"


def test_s19_gon_block_done_before_pt() -> None:
    procedures = [procedure(GON_BLOCK, date(2025, 3, 1))]
    result = cards(record(cgh(), age=36, procedures=procedures))
    expect(result, {"pt-first-line": INFO})
    assert result["pt-first-line"].notes == ("prior-block",)
    ordered = cards(
        record(cgh(), age=36, procedures=procedures, drafts=[service_request(FACET_INJECTION)]), Moment.ORDER_SIGN
    )
    expect(ordered, {"escalation-premature": WARNING})
    assert ordered["escalation-premature"].notes == ("percutaneous",)


@pytest.mark.parametrize("verification", ["refuted", "entered-in-error"])
@pytest.mark.parametrize("moment", list(Moment))
def test_s20_refuted_or_entered_in_error_diagnosis(verification: str, moment: Moment) -> None:
    r = record(cgh(verification), age=48, drafts=[service_request(MRI_CSPINE)])
    assert evaluate(r, moment, TODAY) == ()


@pytest.mark.parametrize("headache", [HEADACHE_PRE_2021, HEADACHE])
def test_s21_legacy_coding_before_fy2022(headache: object) -> None:
    pt_2020 = pt_course([date(2020, 7, 1), date(2020, 7, 8), date(2020, 7, 15)])
    conditions = (
        condition(CGH_LEGACY_CERVICOCRANIAL_DOTLESS, verification=None, recorded=date(2020, 6, 1)),
        condition(headache, recorded=date(2020, 6, 1)),  # type: ignore[arg-type]
    )
    result = cards(record(*conditions, age=55, procedures=pt_2020, birth_date=born_years_ago(55)))
    expect(result, {"suspected-confirm-diagnosis": INFO, "pt-first-line": INFO}, {"red-flags"})
    assert "legacy code M53.0" in result["suspected-confirm-diagnosis"].facts["basis"]
