"""One card per decision: what a card drops when another card on the same response already says it.

Rule (cards/README.md, "One card per decision"): each message and each action appears on one card of a
response, the card that owns the decision; the other card keeps only what is its own.

- A drafted escalation before physical therapy is escalation-premature's decision (it names the orders and
  what is missing); pt-first-line then drops its ``escalation-ordered`` note, which would repeat it, and keeps
  its own message ("no physical therapy on record") and referral.
- A physical therapy referral is offered once: pt-first-line owns it; imaging-not-indicated then drops its
  ``no-pt-yet`` note and the referral half of its suggestion (cancelling the imaging order stays). Accepting
  both would otherwise draft two referrals.

The vascular-imaging double alert (a CTA/MRA order raising red-flags as well) no longer exists: an order is
never a red flag by itself (revision-2 C7), so the pathway never hands the renderer that pair.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from service.pathway.advice import Advice
from service.pathway.advice import RecommendationId
from service.pathway.advice import SuggestionKind

_PT_FIRST_LINE = RecommendationId("pt-first-line")
_IMAGING_NOT_INDICATED = RecommendationId("imaging-not-indicated")
#: (card, note it drops, card whose presence makes the note a repeat)
_REPEATED_NOTES: tuple[tuple[RecommendationId, str, RecommendationId], ...] = (
    (_PT_FIRST_LINE, "escalation-ordered", RecommendationId("escalation-premature")),
    (_IMAGING_NOT_INDICATED, "no-pt-yet", _PT_FIRST_LINE),
)
#: (card, suggestion it drops, card that owns that action on the response)
_REPEATED_SUGGESTIONS: tuple[tuple[RecommendationId, SuggestionKind, RecommendationId], ...] = (
    (_IMAGING_NOT_INDICATED, SuggestionKind.CREATE_PT_REFERRAL, _PT_FIRST_LINE),
)


def one_card_per_decision(advice: Sequence[Advice]) -> list[Advice]:
    """``advice`` with the notes and suggestions that another piece of advice on the response owns removed."""
    present = {item.recommendation for item in advice}
    result = []
    for item in advice:
        drop_notes = {note for card, note, owner in _REPEATED_NOTES if card is item.recommendation and owner in present}
        drop_kinds = {
            kind for card, kind, owner in _REPEATED_SUGGESTIONS if card is item.recommendation and owner in present
        }
        if drop_notes & set(item.notes) or drop_kinds & set(item.suggestions):
            item = replace(
                item,
                notes=tuple(note for note in item.notes if note not in drop_notes),
                suggestions=tuple(kind for kind in item.suggestions if kind not in drop_kinds),
            )
        result.append(item)
    return result
