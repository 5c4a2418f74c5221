"""render_cards: every recommendation renders to a valid CDS Hooks 2.0 card, with the right suggestions.

The validity checks here are our own reading of CDS Hooks 2.0 §Card and of Inferno's checks, independent of
``service.protocol``: summary under 140 characters (counted as JavaScript does), indicator in the set,
source label and topic, selectionBehavior with suggestions, display on override reasons, resourceId on
deletes, no null or empty value anywhere, no raw HTML in the detail.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from types import MappingProxyType
from typing import Any

import pytest
from fhir.resources.R4B.servicerequest import ServiceRequest

from service.pathway.advice import Advice
from service.pathway.advice import Indicator
from service.pathway.advice import RecommendationId
from service.pathway.advice import SuggestionKind
from service.pathway.advice import Trigger
from service.render import OVERRIDE_REASON_SYSTEM
from service.render import RECOMMENDATION_SYSTEM
from service.render import AdviceContractError
from service.render import CardLibrary
from service.render import render_cards
from service.render._contract import CONTRACTS

SNOMED = "http://snomed.info/sct"
CPT = "http://www.ama-assn.org/go/cpt"
PT_PROCEDURE = "91251008"
GON_BLOCK = "64405"
PATIENT = "Patient/pat-1"
CONDITION = "Condition/cgh-1"
HOOK = "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"
SERVICE = "cgh-order-sign"
INDICATORS = {"info", "warning", "critical"}
RELATIVE_REF = re.compile(r"^[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}$")
#: EHR text that must come out inert: markdown, HTML, a line break, and an astral character.
HOSTILE = "<script>alert(1)</script> *bold* _it_ [link](https://x.test) | # 1. \n## heading 🧠"
LONG_WORDS = "suspected vertebral artery dissection with diplopia and new onset after fifty, " * 8


# --- helpers ----------------------------------------------------------------------------------------------


def js_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def card_problems(card: Mapping[str, Any]) -> list[str]:
    """CDS Hooks 2.0 card validity, as this team reads the spec (not the protocol package's validator)."""
    problems = [f"{path} is null or empty" for path in _empty_paths(card, "card")]
    summary = card.get("summary")
    if not isinstance(summary, str) or not summary.strip() or js_length(summary) >= 140 or "\n" in summary:
        problems.append(f"summary must be one line under 140 characters: {summary!r}")
    if card.get("indicator") not in INDICATORS:
        problems.append("indicator")
    try:
        uuid.UUID(card["uuid"])
    except (KeyError, ValueError):
        problems.append("uuid")
    source = card.get("source", {})
    if not source.get("label") or not str(source.get("url", "")).startswith("https://"):
        problems.append("source.label/url")
    topic = source.get("topic", {})
    if topic.get("system") != RECOMMENDATION_SYSTEM or not topic.get("code") or not topic.get("display"):
        problems.append("source.topic")
    detail = card.get("detail", "")
    if re.search(r"<\s*[A-Za-z/!?]", detail.replace("\\<", "")):
        problems.append("raw HTML in detail")
    suggestions = card.get("suggestions")
    if suggestions is not None:
        if card.get("selectionBehavior") != "at-most-one":
            problems.append("selectionBehavior")
        if sum(1 for s in suggestions if s.get("isRecommended")) > 1:
            problems.append("more than one recommended suggestion with at-most-one")
        for suggestion in suggestions:
            uuid.UUID(suggestion["uuid"])
            if not suggestion.get("label") or not suggestion.get("actions"):
                problems.append("suggestion label/actions")
            for action in suggestion["actions"]:
                problems.extend(_action_problems(action))
    elif "selectionBehavior" in card:
        problems.append("selectionBehavior without suggestions")
    for reason in card.get("overrideReasons", []):
        if reason.get("system") != OVERRIDE_REASON_SYSTEM or not reason.get("code") or not reason.get("display"):
            problems.append(f"override reason {reason}")
    for link in card.get("links", []):
        if link.get("type") != "absolute" or not link.get("label") or not link["url"].startswith("https://"):
            problems.append(f"link {link}")
        if "appContext" in link:
            problems.append("appContext on an absolute link")
    return problems


def _action_problems(action: Mapping[str, Any]) -> list[str]:
    problems = []
    if action.get("type") not in {"create", "update", "delete"} or not action.get("description"):
        problems.append(f"action {action}")
    if action.get("type") == "delete" and not RELATIVE_REF.match(action.get("resourceId", "")):
        problems.append("delete without resourceId Type/id")
    if action.get("type") == "create":
        ServiceRequest.model_validate(action["resource"])
    return problems


def _empty_paths(node: Any, path: str) -> list[str]:
    if node is None or node == "" or node == [] or node == {}:
        return [path]
    if isinstance(node, Mapping):
        return [p for key, value in node.items() for p in _empty_paths(value, f"{path}.{key}")]
    if isinstance(node, list):
        return [p for index, value in enumerate(node) for p in _empty_paths(value, f"{path}[{index}]")]
    return []


def full_advice(
    rec: RecommendationId,
    *,
    value: str | None = None,
    notes: tuple[str, ...] | None = None,
    indicator: Indicator = Indicator.INFO,
    patient: str | None = PATIENT,
) -> Advice:
    """Advice for ``rec`` with every catalogue fact, note, trigger role and suggestion."""
    contract = CONTRACTS[rec]
    chosen = contract.notes if notes is None else notes
    facts = {name: value or f"{name.replace('_', ' ')} value" for name in contract.facts}
    for note in chosen:
        facts.update({name: value or "24" for name in contract.note_facts.get(note, ())})
    triggers = tuple(
        Trigger(f"Observation/{role}-{index}", role, value or f"{role} label", date(2025, 5, index + 1))
        for index, role in enumerate(contract.all_roles)
    )
    return Advice(
        recommendation=rec,
        indicator=indicator,
        facts=MappingProxyType(facts),
        notes=chosen,
        triggers=triggers,
        orders=("ServiceRequest/order-1", "ServiceRequest/order-2"),
        suggestions=tuple(k for k in contract.suggestions),
        reason_ref=CONDITION,
        patient_ref=patient,
    )


def render_one(library: CardLibrary, advice: Advice, hook: str = HOOK) -> dict[str, Any]:
    (card,) = render_cards([advice], library, hook_instance=hook, service_id=SERVICE)
    return card


def created(card: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [a["resource"] for s in card.get("suggestions", []) for a in s["actions"] if a["type"] == "create"]


ALL = list(RecommendationId)


# --- every recommendation renders valid cards -------------------------------------------------------------


@pytest.mark.parametrize("rec", ALL, ids=[r.value for r in ALL])
def test_every_recommendation_renders_a_valid_card_with_all_facts_and_notes(
    library: CardLibrary, rec: RecommendationId
) -> None:
    advice = full_advice(rec)
    card = render_one(library, advice)

    assert card_problems(card) == []
    assert card["source"]["topic"] == {
        "system": RECOMMENDATION_SYSTEM,
        "code": rec.value,
        "version": library.card(rec).version,
        "display": library.card(rec).title,
    }
    content = library.card(rec)
    escaped = {k: v.replace("_", "\\_") for k, v in advice.facts.items()}
    for note in content.notes.values():
        assert note.detail.render(escaped) in card["detail"]
    for trigger in advice.triggers:
        assert trigger.when is not None
        day = f"{trigger.when.day} {trigger.when:%b %Y}"
        if trigger.role == "pt-session":  # a course is one line: count, date, kind of session
            assert f"- {content.roles[trigger.role]}: 1 session, {day}, {trigger.label}" in card["detail"]
        else:
            assert f"- {content.roles[trigger.role]}: {trigger.label} ({trigger.ref}, {day})" in card["detail"]
    assert "**Why this card**" in card["detail"]
    # Evidence once: the links carry it, the detail lists no citation.
    assert [link["url"] for link in card["links"]] == [ev.url for ev in content.evidence]
    assert "**Evidence**" not in card["detail"]
    assert not any(ev.label in card["detail"].split("Quality of evidence")[0] for ev in content.evidence)


@pytest.mark.parametrize("rec", ALL, ids=[r.value for r in ALL])
def test_summary_stays_under_140_with_long_facts_for_every_variant(library: CardLibrary, rec: RecommendationId) -> None:
    variants: list[tuple[str, ...]] = [(), *((note,) for note in CONTRACTS[rec].notes)]
    for notes in variants:
        for value in (LONG_WORDS, "x" * 500, "🧠" * 300, HOSTILE * 10):
            card = render_one(library, full_advice(rec, value=value, notes=notes))
            assert js_length(card["summary"]) <= 139, (notes, card["summary"])
            assert card_problems(card) == []


@pytest.mark.parametrize("rec", ALL, ids=[r.value for r in ALL])
def test_long_fact_is_shortened_in_the_summary_but_the_sentence_keeps_its_end(
    library: CardLibrary, rec: RecommendationId
) -> None:
    template = library.card(rec).summary
    card = render_one(library, full_advice(rec, value=LONG_WORDS, notes=()))
    # A full stop right after a shortened value is dropped ("…" not "….").
    assert card["summary"].endswith(template.literals[-1].strip().removeprefix(".").strip() or "…")


def test_hostile_ehr_text_is_inert_in_the_detail(library: CardLibrary) -> None:
    markdown_it = pytest.importorskip("markdown_it")
    for rec in ALL:
        card = render_one(library, full_advice(rec, value=HOSTILE))
        tokens = markdown_it.MarkdownIt("commonmark", {"html": True}).enable("table").parse(card["detail"])
        kinds = {t.type for t in tokens} | {c.type for t in tokens for c in (t.children or [])}
        assert not kinds & {"html_inline", "html_block", "heading_open", "table_open", "image"}
        links = {c.attrGet("href") for t in tokens for c in (t.children or []) if c.type == "link_open"}
        assert links == set()  # the evidence is in card.links only
        assert "\n## heading" not in card["detail"]


def test_cards_come_most_urgent_first_then_in_catalogue_order(library: CardLibrary) -> None:
    advice = [
        full_advice(RecommendationId.PT_FIRST_LINE, indicator=Indicator.INFO),
        full_advice(RecommendationId.IMAGING_NOT_INDICATED, indicator=Indicator.WARNING),
        full_advice(RecommendationId.SUSPECTED_CONFIRM_DIAGNOSIS, indicator=Indicator.INFO),
        full_advice(RecommendationId.RED_FLAGS, indicator=Indicator.CRITICAL),
    ]
    cards = render_cards(advice, library, hook_instance=HOOK, service_id=SERVICE)
    assert [(c["indicator"], c["source"]["topic"]["code"]) for c in cards] == [
        ("critical", "red-flags"),
        ("warning", "imaging-not-indicated"),
        ("info", "suspected-confirm-diagnosis"),
        ("info", "pt-first-line"),
    ]


@pytest.mark.parametrize("indicator", list(Indicator))
def test_indicator_comes_from_the_advice(library: CardLibrary, indicator: Indicator) -> None:
    card = render_one(library, full_advice(RecommendationId.DIFFERENTIAL_DIAGNOSIS, indicator=indicator))
    assert card["indicator"] == indicator.value


def test_a_note_with_its_own_summary_replaces_the_card_summary(library: CardLibrary) -> None:
    rec = RecommendationId.MEDICATION_SYMPTOMATIC_ONLY
    plain = render_one(library, full_advice(rec, notes=()))
    pregnant = render_one(library, full_advice(rec, notes=("nsaid-pregnancy",), indicator=Indicator.WARNING))
    assert plain["summary"] != pregnant["summary"]
    assert "24 weeks" in pregnant["summary"]
    assert "24 weeks" in pregnant["detail"]


def test_a_data_gap_is_said_on_the_card(library: CardLibrary) -> None:
    """Issue 16: the keys the card would have read but could not are named, with what to check by hand."""
    advice = Advice(
        RecommendationId.MANIPULATION_RISK,
        Indicator.WARNING,
        facts=MappingProxyType({"orders": "Chiropractic care", "manipulation": "Spinal manipulation"}),
        data_gaps=("medicationrequests",),
    )
    card = render_one(library, advice)
    assert "medications could not be read from the EHR; check for anticoagulants before manipulation" in card["detail"]
    assert card_problems(card) == []
    plain = render_one(library, replace(advice, data_gaps=()))
    assert "could not be read" not in plain["detail"]


def test_no_triggers_means_no_why_section(library: CardLibrary) -> None:
    advice = Advice(
        RecommendationId.MANIPULATION_RISK,
        Indicator.INFO,
        facts=MappingProxyType({"orders": "Chiropractic care", "manipulation": "Spinal manipulation"}),
    )
    card = render_one(library, advice)
    assert "Why this card" not in card["detail"]
    assert "suggestions" not in card and "selectionBehavior" not in card
    assert card_problems(card) == []


def test_a_pt_course_is_one_line_with_its_count_span_and_kinds(library: CardLibrary) -> None:
    kinds = ("Therapeutic exercise, each 15 minutes", "Manual therapy techniques, 1 or more regions")
    sessions = tuple(
        Trigger(f"Procedure/pt-{n}", "pt-session", kinds[n % 2], date(2025, 3 + n // 6, 1 + n)) for n in range(11)
    )
    base = full_advice(RecommendationId.PT_TRIAL_IN_PROGRESS)
    advice = Advice(base.recommendation, base.indicator, facts=base.facts, triggers=sessions)
    detail = render_one(library, advice)["detail"]
    assert detail.count("- Physical therapy session") == 1
    assert (
        "- Physical therapy session: 11 sessions, 1 Mar – 11 Apr 2025, Therapeutic exercise, "
        "Manual therapy techniques" in detail
    )


def test_why_is_newest_first_at_most_five_lines_then_counted_by_type(library: CardLibrary) -> None:
    triggers = (
        *(Trigger(f"Observation/o-{n}", "outcome", f"Headache days {n}", date(2025, 1, 1 + n)) for n in range(6)),
        Trigger("Procedure/block", "prior-procedure", "Greater occipital nerve block", date(2024, 12, 1)),
        Trigger("Condition/cgh", "diagnosis", "Cervicogenic headache", None),
    )
    base = full_advice(RecommendationId.REFRACTORY_OPTIONS)
    advice = Advice(base.recommendation, base.indicator, facts=base.facts, triggers=triggers)
    why = render_one(library, advice)["detail"].split("**Why this card**")[1]
    lines = [line for line in why.splitlines() if line.startswith("- ")]
    assert len(lines) == 6
    assert lines[0].startswith("- Outcome measure: Headache days 5 (Observation/o-5, 6 Jan 2025)")
    assert [line.split("(")[1].split(",")[0] for line in lines[:5]] == [f"Observation/o-{n}" for n in (5, 4, 3, 2, 1)]
    assert lines[5] == "- and 3 more: 1 Observation, 1 Procedure, 1 Condition"


def test_a_name_matched_trigger_keeps_its_suffix(library: CardLibrary) -> None:
    base = full_advice(RecommendationId.RED_FLAGS)
    trigger = Trigger("Condition/x", "red-flag", "Vertebral dissection", date(2025, 5, 1), matched_by_name="dissection")
    advice = Advice(base.recommendation, base.indicator, facts=base.facts, triggers=(trigger,))
    detail = render_one(library, advice)["detail"]
    assert "- Red flag: Vertebral dissection (Condition/x, 1 May 2025) — matched by name: dissection" in detail


# --- uuids ------------------------------------------------------------------------------------------------


def test_uuids_are_unique_within_a_response_and_stable_for_the_same_hook_instance(library: CardLibrary) -> None:
    advice = [full_advice(rec) for rec in ALL]
    first = render_cards(advice, library, hook_instance=HOOK, service_id=SERVICE)
    again = render_cards(list(reversed(advice)), library, hook_instance=HOOK, service_id=SERVICE)
    other = render_cards(advice, library, hook_instance="another-hook-call", service_id=SERVICE)

    ids = [c["uuid"] for c in first] + [s["uuid"] for c in first for s in c.get("suggestions", [])]
    assert len(ids) == len(set(ids))
    assert first == again
    assert not {c["uuid"] for c in first} & {c["uuid"] for c in other}


# --- suggestions ------------------------------------------------------------------------------------------


def test_pt_first_line_suggests_a_draft_pt_referral_service_request(library: CardLibrary) -> None:
    card = render_one(library, full_advice(RecommendationId.PT_FIRST_LINE))
    (suggestion,) = card["suggestions"]
    assert suggestion["isRecommended"] is True
    assert card["selectionBehavior"] == "at-most-one"
    (action,) = suggestion["actions"]
    assert action["type"] == "create"
    resource = action["resource"]
    model = ServiceRequest.model_validate(resource)
    assert (model.status, model.intent) == ("draft", "order")
    assert [(c.system, c.code, c.display) for c in model.code.coding] == [
        (SNOMED, PT_PROCEDURE, "Physical therapy procedure")
    ]
    assert resource["subject"] == {"reference": PATIENT}
    assert resource["reasonReference"] == [{"reference": CONDITION}]


def test_pt_referral_without_a_reason_has_no_reason_reference(library: CardLibrary) -> None:
    base = full_advice(RecommendationId.PT_FIRST_LINE)
    advice = Advice(
        base.recommendation, base.indicator, suggestions=base.suggestions, patient_ref=PATIENT, reason_ref=None
    )
    (resource,) = created(render_one(library, advice))
    assert "reasonReference" not in resource
    ServiceRequest.model_validate(resource)


def test_gon_block_suggestion_creates_a_cpt_64405_service_request(library: CardLibrary) -> None:
    card = render_one(library, full_advice(RecommendationId.ESCALATE_OCCIPITAL_NERVE_BLOCK))
    (resource,) = created(card)
    model = ServiceRequest.model_validate(resource)
    assert [(c.system, c.code) for c in model.code.coding] == [(CPT, GON_BLOCK)]
    assert model.code.text
    assert resource["subject"] == {"reference": PATIENT}


def test_delete_orders_deletes_each_drafted_order_by_resource_id(library: CardLibrary) -> None:
    base = full_advice(RecommendationId.IMAGING_NOT_INDICATED)
    labelled = (Trigger("ServiceRequest/order-1", "drafted-order", "MRI cervical spine", date(2025, 6, 1)),)
    advice = Advice(
        base.recommendation,
        Indicator.WARNING,
        facts=base.facts,
        triggers=labelled,
        orders=base.orders,
        suggestions=(SuggestionKind.DELETE_ORDERS,),
        patient_ref=PATIENT,
    )
    card = render_one(library, advice)
    (suggestion,) = card["suggestions"]
    assert [(a["type"], a["resourceId"]) for a in suggestion["actions"]] == [
        ("delete", "ServiceRequest/order-1"),
        ("delete", "ServiceRequest/order-2"),
    ]
    assert suggestion["actions"][0]["description"].endswith("MRI cervical spine")
    assert suggestion["actions"][1]["description"].endswith("ServiceRequest/order-2")
    assert card_problems(card) == []


def test_delete_orders_with_pt_referral_offers_the_combination_first_and_deletion_alone(
    library: CardLibrary,
) -> None:
    card = render_one(library, full_advice(RecommendationId.IMAGING_NOT_INDICATED, indicator=Indicator.WARNING))
    combined, delete_only = card["suggestions"]
    assert combined["isRecommended"] is True and delete_only["isRecommended"] is False
    assert [a["type"] for a in combined["actions"]] == ["delete", "delete", "create"]
    assert combined["actions"][2]["resource"]["code"]["coding"][0]["code"] == PT_PROCEDURE
    assert [a["type"] for a in delete_only["actions"]] == ["delete", "delete"]
    assert card_problems(card) == []


def test_replace_with_pt_referral_deletes_the_manipulation_and_creates_pt_in_one_suggestion(
    library: CardLibrary,
) -> None:
    card = render_one(library, full_advice(RecommendationId.MANIPULATION_CONTRAINDICATED))
    (suggestion,) = card["suggestions"]
    assert [(a["type"], a.get("resourceId")) for a in suggestion["actions"]] == [
        ("delete", "ServiceRequest/order-1"),
        ("delete", "ServiceRequest/order-2"),
        ("create", None),
    ]
    ServiceRequest.model_validate(suggestion["actions"][2]["resource"])


def test_replace_absorbs_a_separate_pt_referral_request(library: CardLibrary) -> None:
    base = full_advice(RecommendationId.MANIPULATION_CONTRAINDICATED)
    advice = Advice(
        base.recommendation,
        Indicator.CRITICAL,
        facts=base.facts,
        orders=base.orders,
        suggestions=(SuggestionKind.REPLACE_WITH_PT_REFERRAL, SuggestionKind.CREATE_PT_REFERRAL),
        patient_ref=PATIENT,
    )
    assert len(render_one(library, advice)["suggestions"]) == 1


def test_without_a_patient_reference_no_resource_is_created_and_no_half_replacement_offered(
    library: CardLibrary,
) -> None:
    for rec in (RecommendationId.PT_FIRST_LINE, RecommendationId.MANIPULATION_CONTRAINDICATED):
        card = render_one(library, full_advice(rec, patient=None))
        assert "suggestions" not in card and "selectionBehavior" not in card
        assert card_problems(card) == []
    imaging = render_one(library, full_advice(RecommendationId.IMAGING_NOT_INDICATED, patient=None))
    (delete_only,) = imaging["suggestions"]
    assert {a["type"] for a in delete_only["actions"]} == {"delete"}


def test_orders_that_are_not_type_slash_id_are_not_deleted(library: CardLibrary) -> None:
    base = full_advice(RecommendationId.IMAGING_NOT_INDICATED)
    advice = Advice(
        base.recommendation,
        Indicator.WARNING,
        facts=base.facts,
        orders=("urn:uuid:0b1c", "ServiceRequest/ok-1", "ServiceRequest/ok-1"),
        suggestions=(SuggestionKind.DELETE_ORDERS,),
    )
    (suggestion,) = render_one(library, advice)["suggestions"]
    assert [a["resourceId"] for a in suggestion["actions"]] == ["ServiceRequest/ok-1"]
    no_valid = Advice(
        base.recommendation, Indicator.WARNING, facts=base.facts, orders=("urn:uuid:0b1c",),
        suggestions=(SuggestionKind.DELETE_ORDERS,),
    )
    assert "suggestions" not in render_one(library, no_valid)


def test_a_malformed_reason_reference_is_left_out(library: CardLibrary) -> None:
    base = full_advice(RecommendationId.PT_FIRST_LINE)
    advice = Advice(
        base.recommendation, base.indicator, suggestions=base.suggestions, patient_ref=PATIENT,
        reason_ref="urn:uuid:not-for-the-ehr",
    )
    (resource,) = created(render_one(library, advice))
    assert "reasonReference" not in resource


# --- contract violations ----------------------------------------------------------------------------------


def test_missing_fact_is_a_contract_error(library: CardLibrary) -> None:
    advice = Advice(RecommendationId.PT_TRIAL_IN_PROGRESS, Indicator.INFO, facts=MappingProxyType({"pt_weeks": "6"}))
    with pytest.raises(AdviceContractError, match="pt-trial-in-progress: missing fact.*pt_sessions"):
        render_one(library, advice)


def test_blank_fact_is_shown_as_not_recorded_instead_of_failing(library: CardLibrary) -> None:
    facts = {"block_date": "2025-04-15", "response": "  "}
    advice = Advice(RecommendationId.ESCALATE_PERCUTANEOUS, Indicator.INFO, facts=MappingProxyType(facts))
    card = render_one(library, advice)
    assert f"({library.blank_fact})" in card["summary"]
    assert f"**{library.blank_fact}**" in card["detail"]
    assert card_problems(card) == []


def test_note_fact_is_required_when_its_note_is_present(library: CardLibrary) -> None:
    advice = Advice(
        RecommendationId.MEDICATION_SYMPTOMATIC_ONLY,
        Indicator.WARNING,
        facts=MappingProxyType({"medications": "ibuprofen"}),
        notes=("nsaid-pregnancy",),
    )
    with pytest.raises(AdviceContractError, match="gest_weeks"):
        render_one(library, advice)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"notes": ("no-such-note",)}, "unknown note"),
        ({"triggers": (Trigger("Condition/x", "mystery"),)}, "unknown trigger role"),
        ({"suggestions": (SuggestionKind.CREATE_GON_BLOCK,)}, "cannot offer create-gon-block"),
    ],
)
def test_advice_outside_the_catalogue_is_a_contract_error(
    library: CardLibrary, change: dict[str, Any], message: str
) -> None:
    base = full_advice(RecommendationId.RED_FLAGS)
    fields = {"facts": base.facts, "patient_ref": PATIENT, **change}
    with pytest.raises(AdviceContractError, match=message):
        render_one(library, Advice(base.recommendation, Indicator.CRITICAL, **fields))


def test_two_pieces_of_advice_for_one_id_is_a_contract_error(library: CardLibrary) -> None:
    advice = full_advice(RecommendationId.PT_FIRST_LINE)
    with pytest.raises(AdviceContractError, match="at most one card per id"):
        render_cards([advice, advice], library, hook_instance=HOOK, service_id=SERVICE)


def test_contract_error_is_a_500_for_the_web_layer() -> None:
    assert AdviceContractError("x").status == 500


def test_a_trigger_recognised_by_name_says_so_in_the_why(library: CardLibrary) -> None:
    base = full_advice(RecommendationId.MEDICATION_OPIOID)
    by_name = Trigger("MedicationRequest/m1", "drafted-order", "Percocet 5/325", date(2025, 5, 1), "Percocet")
    by_code = Trigger("MedicationRequest/m2", "drafted-order", "oxycodone 5 MG", date(2025, 5, 1))
    advice = Advice(base.recommendation, base.indicator, facts=base.facts, triggers=(by_name, by_code))
    detail = render_one(library, advice)["detail"]
    (named,) = [line for line in detail.splitlines() if "MedicationRequest/m1" in line]
    (coded,) = [line for line in detail.splitlines() if "MedicationRequest/m2" in line]
    assert named.endswith("matched by name: Percocet")
    assert "matched by name" not in coded
