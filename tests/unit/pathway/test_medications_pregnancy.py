"""Revision 2 C4, C10, C11, C12: paediatric safety cards, pregnancy signals, botulinum toxin and opioids by
ingredient and brand, and the medication name fallback (only without RxNorm coding, whole words only)."""

from __future__ import annotations

from datetime import date

import pytest

from service.fhir.coding import ICD10CM
from service.fhir.coding import RXNORM
from service.fhir.coding import SNOMED
from service.fhir.coding import Coding
from service.fhir.coding import normalise
from service.fhir.record import DoseFacts
from service.fhir.record import MedicationRequestFacts
from service.fhir.record import PatientRecord
from service.pathway import Advice
from service.pathway import Indicator
from service.pathway import Moment
from service.pathway import evaluate
from service.pathway.facts import OrderKind
from service.pathway.facts import aspirin_mg_per_day
from service.pathway.facts import classify
from service.pathway.facts import derive_facts
from service.pathway.facts import months_before
from service.pathway.facts import pregnancy
from service.pathway.terminology import ValueSetId as VS
from service.pathway.thresholds import PathwayThresholds
from tests.unit.pathway.builders import APIXABAN
from tests.unit.pathway.builders import BOTOX_PROCEDURE
from tests.unit.pathway.builders import CHIRO_MANIPULATION
from tests.unit.pathway.builders import FEVER
from tests.unit.pathway.builders import IBUPROFEN
from tests.unit.pathway.builders import MRI_CSPINE
from tests.unit.pathway.builders import OSTEOPOROSIS
from tests.unit.pathway.builders import OXYCODONE
from tests.unit.pathway.builders import PREGNANT_INCIDENTAL
from tests.unit.pathway.builders import TODAY
from tests.unit.pathway.builders import by_id
from tests.unit.pathway.builders import cgh
from tests.unit.pathway.builders import condition
from tests.unit.pathway.builders import days_ago
from tests.unit.pathway.builders import family
from tests.unit.pathway.builders import gestation
from tests.unit.pathway.builders import medication_request
from tests.unit.pathway.builders import member
from tests.unit.pathway.builders import record
from tests.unit.pathway.builders import service_request
from tests.unit.pathway.builders import weeks_ago

LIMITS = PathwayThresholds()
NDC = "http://hl7.org/fhir/sid/ndc"
CODEINE = member(VS.OPIOIDS, "2670")
TRAMADOL = member(VS.OPIOIDS, "10689")
METHADONE = member(VS.OPIOIDS, "6813")
ASPIRIN = member(VS.ASPIRIN, "1191")
ASPIRIN_81 = member(VS.ASPIRIN, "243670")
BOTOX_DAXI = member(VS.BOTULINUM_TOXIN, "J0589")
OPIOID_DEPENDENCE = family(VS.OPIOID_USE_DISORDER, ICD10CM, "F11.20", "Opioid dependence, uncomplicated")
NORMAL_PREGNANCY = member(VS.PREGNANCY, "72892002")
SUPERVISION_OF_PREGNANCY = family(VS.PREGNANCY, ICD10CM, "Z34.00", "Supervision of normal first pregnancy")
POSITIVE_TEST = member(VS.PREGNANCY, "Z32.01")
PUERPERAL_COMPLICATION = family(VS.PUERPERIUM, ICD10CM, "O90.89", "Other complications of the puerperium")
LIVE_BIRTH = family(VS.DELIVERY, ICD10CM, "Z37.0", "Single live birth")
FULL_TERM_DELIVERY = family(VS.DELIVERY, ICD10CM, "O80", "Encounter for full-term uncomplicated delivery")


def _unlisted(system: str, display: str) -> Coding:
    coding = normalise(system, "0000000", display)
    assert coding is not None
    return coding


def _med(*codings: Coding, text: str | None = None, **kw: object) -> MedicationRequestFacts:
    order = medication_request(*codings, text=text)
    return MedicationRequestFacts(**{**{f: getattr(order, f) for f in order.__slots__}, **kw})


def _sign(rec: PatientRecord, today: date = TODAY) -> dict[str, Advice]:
    return by_id(evaluate(rec, Moment.ORDER_SIGN, today))


def _kinds(order: MedicationRequestFacts, *conditions: object) -> frozenset[OrderKind]:
    return classify(order, conditions).kinds  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------ name fallback


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("Norco 5-325 mg tablet", "Norco"),
        ("BUTORPHANOL nasal spray", "butorphanol"),
        ("Tylenol with codeine #3", "Tylenol with codeine"),
        ("oxymorphone ER 10 mg", "oxymorphone"),
        ("Percocet 5/325", "Percocet"),
    ],
)
def test_opioids_by_ingredient_and_brand_without_rxnorm_coding(text: str, term: str) -> None:
    found = classify(medication_request(text=text))
    assert OrderKind.OPIOID in found.kinds
    assert found.matched_by_name == term


def test_an_rxnorm_coded_medication_is_judged_by_its_codes_only() -> None:
    # revision 2 §3: no name fallback when an RxNorm coding is present, even if its display names an opioid.
    unlisted_product = _unlisted(RXNORM, "oxycodone hydrochloride 5 MG Oral Tablet")
    assert OrderKind.OPIOID not in _kinds(medication_request(unlisted_product, text="oxycodone 5 mg"))
    found = classify(medication_request(OXYCODONE))
    assert OrderKind.OPIOID in found.kinds and found.matched_by_name is None


def test_an_ndc_coded_medication_may_be_recognised_by_name() -> None:
    found = classify(medication_request(_unlisted(NDC, "Dilaudid 2 MG Oral Tablet")))
    assert OrderKind.OPIOID in found.kinds and found.matched_by_name == "Dilaudid"


@pytest.mark.parametrize("text", ["dihydrocodeine 30 mg", "codeinexx", "Ultramarine pigment", "morphinan"])
def test_names_match_whole_words_only(text: str) -> None:
    assert OrderKind.CODEINE_TRAMADOL not in _kinds(medication_request(text=text))


def test_codeine_and_tramadol_are_their_own_group() -> None:
    assert OrderKind.CODEINE_TRAMADOL in _kinds(medication_request(CODEINE))
    assert OrderKind.CODEINE_TRAMADOL in _kinds(medication_request(text="Ultram 50 mg"))
    assert OrderKind.CODEINE_TRAMADOL not in _kinds(medication_request(OXYCODONE))


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Celebrex 200 mg", OrderKind.NSAID),
        ("Imitrex 50 mg", OrderKind.TRIPTAN),
        ("Eliquis 5 mg", OrderKind.ANTICOAGULANT),
        ("Fragmin 5000 units", OrderKind.ANTICOAGULANT),
        ("Xeomin 100 units", OrderKind.TOXIN),
    ],
)
def test_other_medication_groups_by_brand(text: str, kind: OrderKind) -> None:
    assert kind in _kinds(medication_request(text=text))


def test_an_anticoagulant_on_record_recognised_by_name_says_so() -> None:
    rec = record(cgh(), medication_requests=[medication_request(text="Xarelto 20 mg daily", status="active")])
    facts = derive_facts(rec, Moment.RECORD_REVIEW, TODAY)
    assert [f.matched_by_name for f in facts.anticoagulation] == ["Xarelto"]
    coded = record(cgh(), medication_requests=[medication_request(APIXABAN, status="active")])
    assert [f.matched_by_name for f in derive_facts(coded, Moment.RECORD_REVIEW, TODAY).anticoagulation] == [None]


# ------------------------------------------------------------------------------------------------ C12


def test_opioid_card_names_the_brand_match() -> None:
    advice = _sign(record(cgh(), drafts=[medication_request(text="Nucynta 50 mg tablet")]))
    card = advice["medication-opioid"]
    assert card.indicator is Indicator.WARNING
    assert [t.matched_by_name for t in card.triggers if t.role == "drafted-order"] == ["Nucynta"]


@pytest.mark.parametrize("text", ["Fioricet 50-300-40 mg capsule", "butalbital/acetaminophen/caffeine", "Esgic"])
def test_butalbital_fires_medication_opioid_with_its_wording(text: str) -> None:
    advice = _sign(record(cgh(), drafts=[medication_request(text=text)]))
    assert advice["medication-opioid"].notes == ("butalbital",)
    assert "medication-symptomatic-only" not in advice


@pytest.mark.parametrize(
    "text", ["Suboxone 8 mg-2 mg sublingual film", "Zubsolv 5.7/1.4", "Sublocade 300 mg", "buprenorphine/naloxone"]
)
def test_opioid_use_disorder_products_get_no_opioid_card(text: str) -> None:
    assert "medication-opioid" not in _sign(record(cgh(), drafts=[medication_request(text=text)]))


def test_methadone_or_buprenorphine_for_opioid_use_disorder_get_no_opioid_card() -> None:
    disorder = condition(OPIOID_DEPENDENCE)
    by_code = _med(METHADONE, reason_codings=(OPIOID_DEPENDENCE,))
    by_reference = _med(text="buprenorphine 8 mg sublingual tablet", reason_refs=(disorder.ref,))
    by_text = _med(METHADONE, reason_texts=("opioid use disorder",))
    for order in (by_code, by_reference, by_text):
        assert OrderKind.OPIOID not in _kinds(order, disorder), order
    assert OrderKind.OPIOID in _kinds(_med(METHADONE))
    # Only methadone and buprenorphine are excluded for that reason: oxycodone still warns.
    assert OrderKind.OPIOID in _kinds(_med(OXYCODONE, reason_codings=(OPIOID_DEPENDENCE,)))
    refuted = condition(OPIOID_DEPENDENCE, verification="refuted")
    assert OrderKind.OPIOID in _kinds(_med(METHADONE, reason_refs=(refuted.ref,)), refuted)


# ------------------------------------------------------------------------------------------------ C4


@pytest.mark.parametrize(
    ("age", "order", "indicator", "notes"),
    [
        (10, CODEINE, Indicator.CRITICAL, ("codeine-tramadol-child",)),
        (15, TRAMADOL, Indicator.WARNING, ("codeine-tramadol-child",)),
        (17, OXYCODONE, Indicator.WARNING, ()),
        (18, CODEINE, Indicator.WARNING, ()),
    ],
)
def test_codeine_and_tramadol_under_18(age: int, order: Coding, indicator: Indicator, notes: tuple[str, ...]) -> None:
    card = _sign(record(cgh(), age=age, drafts=[medication_request(order)]))["medication-opioid"]
    assert (card.indicator, card.notes) == (indicator, notes)


def test_every_safety_card_fires_under_18() -> None:
    pregnant_teen = record(
        cgh(),
        condition(OSTEOPOROSIS),
        condition(PREGNANT_INCIDENTAL, onset=days_ago(60)),
        condition(FEVER),
        age=16,
        drafts=[
            service_request(CHIRO_MANIPULATION),
            service_request(MRI_CSPINE),
            service_request(BOTOX_PROCEDURE),
            medication_request(IBUPROFEN),
            medication_request(TRAMADOL),
        ],
    )
    advice = _sign(pregnant_teen)
    assert {
        "out-of-scope-pediatric",
        "red-flags",
        "imaging-red-flag-appropriate",
        "manipulation-contraindicated",
        "medication-opioid",
        "medication-symptomatic-only",
        "escalation-premature",
        "botulinum-pregnancy",
    } <= set(advice)
    assert "pt-first-line" not in advice and "imaging-not-indicated" not in advice


# ------------------------------------------------------------------------------------------------ C10


@pytest.mark.parametrize(
    ("signal", "months", "pregnant"),
    [
        (PREGNANT_INCIDENTAL, 14, False),  # revision 2 §4 acceptance: a Z33.1 dated 14 months ago
        (PREGNANT_INCIDENTAL, 10, False),
        (PREGNANT_INCIDENTAL, 9, True),
        (SUPERVISION_OF_PREGNANCY, 3, True),
        (POSITIVE_TEST, 1, True),
        (NORMAL_PREGNANCY, 2, True),
    ],
)
def test_pregnancy_signals_expire_after_ten_months(signal: Coding, months: int, pregnant: bool) -> None:
    rec = record(condition(signal, onset=months_before(TODAY, months)))
    assert pregnancy(rec, TODAY, LIMITS).pregnant is pregnant


@pytest.mark.parametrize("delivery", [LIVE_BIRTH, FULL_TERM_DELIVERY])
def test_a_later_delivery_ends_the_pregnancy(delivery: Coding) -> None:
    signal = condition(PREGNANT_INCIDENTAL, onset=months_before(TODAY, 8))
    after = condition(delivery, clinical="resolved", onset=weeks_ago(3))
    before = condition(delivery, clinical="resolved", onset=months_before(TODAY, 9))
    assert not pregnancy(record(signal, after), TODAY, LIMITS).pregnant
    assert pregnancy(record(signal, before), TODAY, LIMITS).pregnant
    assert not pregnancy(record(condition(delivery, onset=weeks_ago(1))), TODAY, LIMITS).pregnant


def test_gestational_age_is_the_latest_z3a_plus_the_weeks_since() -> None:
    rec = record(condition(gestation(12), onset=weeks_ago(10)), condition(gestation(18), onset=weeks_ago(4)))
    assert pregnancy(rec, TODAY, LIMITS).gest_weeks == 22
    expired = record(condition(gestation(12), onset=months_before(TODAY, 11)))
    assert pregnancy(expired, TODAY, LIMITS).gest_weeks is None


def test_puerperium_is_not_pregnancy_but_a_red_flag_with_a_new_headache() -> None:
    puerperal = condition(PUERPERAL_COMPLICATION, onset=weeks_ago(2))
    result = pregnancy(record(puerperal), TODAY, LIMITS)
    assert not result.pregnant and [f.ref for f in result.puerperium] == [puerperal.ref]
    new_headache = by_id(evaluate(record(cgh(onset=weeks_ago(3)), puerperal), Moment.RECORD_REVIEW, TODAY))
    assert "new headache in the puerperium" in new_headache["red-flags"].facts["red_flags"]
    old_headache = by_id(evaluate(record(cgh(), puerperal), Moment.RECORD_REVIEW, TODAY))
    assert "red-flags" not in old_headache


def _nsaid_card(*conditions: object, order: MedicationRequestFacts | None = None) -> Advice | None:
    drafts = [order if order is not None else medication_request(IBUPROFEN)]
    return _sign(record(cgh(), *conditions, drafts=drafts)).get("medication-symptomatic-only")  # type: ignore[arg-type]


def test_nsaid_in_pregnancy_with_unknown_gestational_age_warns() -> None:
    card = _nsaid_card(condition(PREGNANT_INCIDENTAL, onset=weeks_ago(6)))
    assert card is not None and card.indicator is Indicator.WARNING
    assert card.notes == ("nsaid-pregnancy-weeks-unknown",) and "gest_weeks" not in card.facts


def test_nsaid_before_20_weeks_is_info() -> None:
    card = _nsaid_card(condition(gestation(16), onset=weeks_ago(1)))
    assert card is not None and card.indicator is Indicator.INFO and card.notes == ()


@pytest.mark.parametrize(
    ("order", "mg"),
    [
        (medication_request(ASPIRIN_81), 81.0),
        (medication_request(ASPIRIN, text="aspirin 150 mg tablet"), 150.0),
        (_med(ASPIRIN_81, dosage=(DoseFacts(quantity=2, unit="tablet", per_day=2),)), 324.0),
        (_med(ASPIRIN, dosage=(DoseFacts(quantity=75, unit="mg", per_day=1),)), 75.0),
        (_med(ASPIRIN, dosage=(DoseFacts(text="81mg once daily at night"),)), 81.0),
        (medication_request(ASPIRIN), None),
        (medication_request(text="aspirin 250 MG / acetaminophen 250 MG / caffeine 65 MG Oral Tablet"), 250.0),
        (medication_request(text="ASA 81 mg EC tablet"), 81.0),
        (medication_request(text="caffeine 40 MG / aspirin 325 MG"), 325.0),
        (medication_request(text="Excedrin 250 mg / 250 mg / 65 mg"), None),
    ],
)
def test_aspirin_daily_dose(order: MedicationRequestFacts, mg: float | None) -> None:
    assert aspirin_mg_per_day(order) == mg


@pytest.mark.parametrize("pregnant", [True, False])
def test_low_dose_aspirin_is_not_an_analgesic_order(pregnant: bool) -> None:
    signal = [condition(gestation(24), onset=days_ago(3))] if pregnant else []
    # revision 2 §4 acceptance: aspirin 150 mg in pregnancy gets no card.
    for order in (medication_request(ASPIRIN, text="aspirin 150 mg"), medication_request(ASPIRIN_81)):
        assert _nsaid_card(*signal, order=order) is None


def test_analgesic_dose_aspirin_in_pregnancy_is_an_nsaid() -> None:
    card = _nsaid_card(condition(gestation(24), onset=days_ago(3)), order=medication_request(text="aspirin 325 mg"))
    assert card is not None and card.indicator is Indicator.WARNING and card.notes == ("nsaid-pregnancy",)


def test_aspirin_of_unknown_strength_in_pregnancy_is_info_only() -> None:
    card = _nsaid_card(condition(gestation(30), onset=days_ago(3)), order=medication_request(ASPIRIN))
    assert card is not None and card.indicator is Indicator.INFO and card.notes == ("aspirin-prophylaxis",)
    not_pregnant = _nsaid_card(order=medication_request(ASPIRIN))
    assert not_pregnant is not None and not_pregnant.notes == ()


# ------------------------------------------------------------------------------------------------ C11


@pytest.mark.parametrize(
    "order",
    [
        medication_request(_unlisted(NDC, "Botox 100 unit injection powder")),
        medication_request(text="onabotulinumtoxinA 155 units"),
        medication_request(BOTOX_DAXI),
        service_request(text="Dysport injection, cervical muscles"),
    ],
)
def test_botulinum_toxin_by_ingredient_brand_and_code_fires_in_pregnancy(order: object) -> None:
    advice = _sign(record(cgh(), condition(PREGNANT_INCIDENTAL, onset=weeks_ago(8)), drafts=[order]))  # type: ignore[list-item]
    assert advice["botulinum-pregnancy"].indicator is Indicator.WARNING


def test_a_coded_procedure_order_is_not_recognised_by_its_text() -> None:
    trigger_point = normalise(SNOMED, "0000000", "Trigger point injection")
    assert trigger_point is not None
    order = service_request(trigger_point, text="Botox discussed, not given")
    assert OrderKind.TOXIN not in classify(order).kinds


def test_groups_without_any_rxnorm_code_recognise_an_rxnorm_coded_product_by_name() -> None:
    # No RxCUI is verified for botulinum toxin or butalbital: RxNorm cannot decide for them (readings, C11/C12).
    botox = medication_request(_unlisted(RXNORM, "onabotulinumtoxinA 100 UNT Injection [Botox]"))
    found = classify(botox)
    assert OrderKind.TOXIN in found.kinds and found.matched_by_name == "onabotulinumtoxinA"
    fioricet = medication_request(_unlisted(RXNORM, "Fioricet 50 MG / 300 MG / 40 MG Oral Capsule"))
    assert OrderKind.BUTALBITAL in classify(fioricet).kinds
