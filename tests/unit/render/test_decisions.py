"""One card per decision (service/render/_decisions.py): a repeated note or a second PT referral is dropped."""

from __future__ import annotations

from typing import Any

from service.pathway.advice import RecommendationId as R
from service.render import CardLibrary
from service.render import render_cards
from tests.unit.render.test_render_cards import HOOK
from tests.unit.render.test_render_cards import SERVICE
from tests.unit.render.test_render_cards import full_advice


def _cards(library: CardLibrary, *recs: R) -> dict[str, dict[str, Any]]:
    cards = render_cards([full_advice(rec) for rec in recs], library, hook_instance=HOOK, service_id=SERVICE)
    return {card["source"]["topic"]["code"]: card for card in cards}


def _referrals(card: dict[str, Any]) -> int:
    return sum(
        1 for s in card.get("suggestions", []) for a in s["actions"] if a["type"] == "create"
    )


def test_pt_first_line_drops_the_escalation_note_that_escalation_premature_owns(library: CardLibrary) -> None:
    note = library.card(R.PT_FIRST_LINE).notes["escalation-ordered"]
    alone = _cards(library, R.PT_FIRST_LINE)["pt-first-line"]
    both = _cards(library, R.PT_FIRST_LINE, R.ESCALATION_PREMATURE)["pt-first-line"]
    assert note.detail.render({}) in alone["detail"]
    assert note.detail.render({}) not in both["detail"]
    assert both["summary"] != alone["summary"]  # the note's own summary went with it
    assert _referrals(both) == 1  # pt-first-line keeps its own message and its referral


def test_a_pt_referral_is_offered_once_per_response(library: CardLibrary) -> None:
    alone = _cards(library, R.IMAGING_NOT_INDICATED)["imaging-not-indicated"]
    both = _cards(library, R.IMAGING_NOT_INDICATED, R.PT_FIRST_LINE)
    assert _referrals(alone) == 1
    assert _referrals(both["imaging-not-indicated"]) == 0
    assert [s["label"] for s in both["imaging-not-indicated"]["suggestions"]] == ["Cancel the imaging order"]
    assert _referrals(both["pt-first-line"]) == 1
    assert "No physical therapy on record" not in both["imaging-not-indicated"]["detail"]
