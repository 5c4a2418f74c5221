"""Revision-2 safety changes (C05-C09, C19): history-counted contraindications, arterial tiers, no red flag from
an order, red-flag time windows, modality advice and manipulation scope, at their edges."""

from __future__ import annotations

from datetime import date

from service.fhir.coding import ICD10CM
from service.fhir.coding import SNOMED
from service.fhir.coding import Coding
from service.fhir.coding import normalise
from service.fhir.record import ConditionFacts
from service.fhir.record import ServiceRequestFacts
from service.pathway import Advice
from service.pathway import Indicator
from service.pathway import Moment
from service.pathway import evaluate
from service.pathway.facts import derive_facts
from tests.unit.pathway.builders import CHIRO_MANIPULATION
from tests.unit.pathway.builders import CT_CSPINE
from tests.unit.pathway.builders import CTA_NECK
from tests.unit.pathway.builders import MRI_CSPINE
from tests.unit.pathway.builders import VERTEBRAL_DISSECTION
from tests.unit.pathway.builders import WHIPLASH_SPRAIN
from tests.unit.pathway.builders import by_id
from tests.unit.pathway.builders import cgh
from tests.unit.pathway.builders import condition
from tests.unit.pathway.builders import days_ago
from tests.unit.pathway.builders import record
from tests.unit.pathway.builders import service_request


def _code(system: str, code: str, display: str | None = None) -> Coding:
    coding = normalise(system, code, display)
    assert coding is not None
    return coding


def _sign(*conditions: ConditionFacts, drafts: tuple[ServiceRequestFacts, ...]) -> dict[str, Advice]:
    r = record(cgh(), *conditions, drafts=drafts)
    return by_id(evaluate(r, Moment.ORDER_SIGN, date(2025, 6, 1)))


def test_c05_resolved_dissection_is_a_contraindication_named_as_history() -> None:
    resolved = condition(
        VERTEBRAL_DISSECTION, clinical="resolved", onset=date(2022, 11, 10), abatement=date(2023, 3, 1)
    )
    advice = _sign(resolved, drafts=(service_request(CHIRO_MANIPULATION, text="cervical spine"),))
    card = advice["manipulation-contraindicated"]
    assert card.indicator is Indicator.CRITICAL
    assert card.facts["reasons"] == "history of cervical artery dissection (resolved 2023)"
    assert card.facts["manipulation"] == "Cervical manipulation"
    assert "red-flags" not in advice  # older than 12 months: no imaging red flag (C08)


def test_c05_refuted_dissection_does_not_count() -> None:
    refuted = condition(VERTEBRAL_DISSECTION, verification="refuted")
    assert "manipulation-contraindicated" not in _sign(refuted, drafts=(service_request(CHIRO_MANIPULATION),))


def test_c05_z98_1_counts_only_with_cervical_text() -> None:
    arthrodesis = _code(ICD10CM, "Z98.1", "Arthrodesis status")
    plain = _sign(condition(arthrodesis), drafts=(service_request(CHIRO_MANIPULATION),))
    fused = condition(arthrodesis, text="Arthrodesis status, C5-C6 fusion")
    cervical = _sign(fused, drafts=(service_request(CHIRO_MANIPULATION),))
    assert "manipulation-contraindicated" not in plain
    assert cervical["manipulation-contraindicated"].indicator is Indicator.WARNING


def test_c06_tiers() -> None:
    chiro = (service_request(CHIRO_MANIPULATION),)
    g450 = _sign(condition(_code(ICD10CM, "G45.0")), drafts=chiro)
    carotid = _sign(condition(_code(ICD10CM, "I65.21")), drafts=chiro)
    assert g450["manipulation-contraindicated"].indicator is Indicator.CRITICAL
    assert carotid["manipulation-contraindicated"].indicator is Indicator.WARNING


def test_c07_vascular_imaging_is_no_red_flag_but_a_workup_for_manipulation() -> None:
    alone = _sign(drafts=(service_request(CTA_NECK),))
    assert alone == {}
    both = _sign(drafts=(service_request(CTA_NECK), service_request(CHIRO_MANIPULATION)))
    card = both["manipulation-contraindicated"]
    assert card.indicator is Indicator.CRITICAL and "workup" in card.notes
    assert "red-flags" not in both


def test_c08_windows() -> None:
    today = date(2025, 6, 1)
    old_stroke = record(cgh(), condition(_code(ICD10CM, "I63.9"), onset=date(2019, 2, 11)))
    recent_stroke = record(cgh(), condition(_code(SNOMED, "230690007"), onset=days_ago(60), clinical="resolved"))
    old_fever = record(cgh(), condition(_code(SNOMED, "386661006"), onset=days_ago(60), clinical="resolved"))
    assert not derive_facts(old_stroke, Moment.RECORD_REVIEW, today).red_flags
    assert derive_facts(recent_stroke, Moment.RECORD_REVIEW, today).red_flags
    assert not derive_facts(old_fever, Moment.RECORD_REVIEW, today).red_flags  # fever only while active


def test_c08_exclusion_wins_over_other_codings() -> None:
    today = date(2025, 6, 1)
    unspecified = _code(ICD10CM, "C80.1")
    alone = derive_facts(record(cgh(), condition(unspecified)), Moment.RECORD_REVIEW, today)
    assert [f.category for f in alone.red_flags] == ["malignancy"]
    skin = condition(_code(ICD10CM, "C44.91"), unspecified, onset=days_ago(30))
    history = condition(_code(ICD10CM, "Z85.828"), _code(ICD10CM, "Z85.3"), onset=days_ago(30))
    family = condition(_code(ICD10CM, "Z80.3"), _code(ICD10CM, "Z85.3"), onset=days_ago(30))
    facts = derive_facts(record(cgh(onset=days_ago(30)), skin, history, family), Moment.RECORD_REVIEW, today)
    assert not facts.red_flags and not facts.imaging_history


def test_c08_name_fallback_says_so_and_skips_other_words() -> None:
    today = date(2025, 6, 1)
    meningitis = condition(text="Viral meningitis", onset=days_ago(5))
    flags = derive_facts(record(cgh(), meningitis), Moment.RECORD_REVIEW, today).red_flags
    assert [f.matched_by_name for f in flags] == ["meningitis"]
    dementia = condition(text="Dementia", onset=days_ago(5))
    assert not derive_facts(record(cgh(), dementia), Moment.RECORD_REVIEW, today).red_flags
    coded = condition(_code(ICD10CM, "F03.90"), text="Meningitis follow-up", onset=days_ago(5))
    assert not derive_facts(record(cgh(), coded), Moment.RECORD_REVIEW, today).red_flags  # coded: no fallback


def test_c09_preferred_study_named_when_the_drafted_one_differs() -> None:
    whiplash = condition(WHIPLASH_SPRAIN, onset=days_ago(14))
    mri = _sign(whiplash, drafts=(service_request(MRI_CSPINE),))["imaging-red-flag-appropriate"]
    ct = _sign(whiplash, drafts=(service_request(CT_CSPINE),))["imaging-red-flag-appropriate"]
    assert mri.notes[:2] == ("preferred-study", "cervical-trauma")
    assert mri.facts["preferred_study"] == "CT of the cervical spine without contrast"
    assert "preferred-study" not in ct.notes and "preferred_study" not in ct.facts


def test_c19_non_cervical_region_drops_arterial_tier_and_wording() -> None:
    resolved = condition(VERTEBRAL_DISSECTION, clinical="resolved", onset=date(2022, 11, 10))
    lumbar = _sign(resolved, drafts=(service_request(CHIRO_MANIPULATION, text="lumbar spine"),))
    card = lumbar["manipulation-contraindicated"]
    assert card.indicator is Indicator.WARNING and "other-region" in card.notes
    assert card.facts["manipulation"] == "Spinal manipulation"


def test_c08_text_worded_as_history_is_history_not_a_current_flag() -> None:
    today = date(2025, 6, 1)
    stroke = condition(text="History of stroke")
    cancer = condition(text="History of breast cancer")
    facts = derive_facts(record(cgh(), stroke, cancer), Moment.RECORD_REVIEW, today)
    assert not facts.red_flags
    assert [f.label for f in facts.imaging_history] == ["history of malignancy"]
    new = derive_facts(record(cgh(onset=days_ago(20)), cancer), Moment.RECORD_REVIEW, today)
    assert [f.category for f in new.red_flags] == ["malignancy-history"]
    chiro = (service_request(CHIRO_MANIPULATION),)
    assert _sign(stroke, drafts=chiro)["manipulation-contraindicated"].indicator is Indicator.CRITICAL


def test_name_exclusions_for_text_only_conditions() -> None:
    today = date(2025, 6, 1)
    for text in ("Heat stroke", "HIV negative", "Basal cell carcinoma of nose"):
        facts = derive_facts(record(cgh(onset=days_ago(10)), condition(text=text)), Moment.RECORD_REVIEW, today)
        assert not facts.red_flags and not facts.imaging_history, text
    hiv = derive_facts(record(cgh(onset=days_ago(10)), condition(text="HIV")), Moment.RECORD_REVIEW, today)
    assert [f.matched_by_name for f in hiv.red_flags] == ["HIV"]


def test_c08_history_labels() -> None:
    today = date(2025, 6, 1)
    z85 = condition(_code(ICD10CM, "Z85.3"), clinical="inactive")
    remission = condition(_code(ICD10CM, "C50.911"), clinical="remission", abatement=date(2022, 1, 5))
    facts = derive_facts(record(cgh(), z85, remission), Moment.RECORD_REVIEW, today)
    assert [f.label for f in facts.imaging_history] == [
        "history of malignancy (inactive)",
        "history of malignancy (in remission 2022)",
    ]
