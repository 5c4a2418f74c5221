"""What one recommendation declares beside its rule: when it runs, what suppresses it, what it hands to its card.

Each module of ``service/pathway/rules/`` holds one :class:`Recommendation` (``DECLARATION``) and its rule
function. Everything else that needs the list of recommendations derives it from these declarations: the
engine (moments, suppressions, order), the card loader and renderer (:class:`CardContract`), the data-gap
table, the catalogue document (printed by ``cgh-cds catalogue``) and the
tests. The card file owns the wording; the rule owns when.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from types import MappingProxyType
from typing import Final

from service.pathway.advice import Advice
from service.pathway.advice import Moment
from service.pathway.advice import RecommendationId
from service.pathway.advice import SuggestionKind
from service.pathway.facts import Facts

#: Trigger roles any card may receive: the CGH / suspected-CGH Condition and an order from ``draftOrders``.
COMMON_ROLES: Final = ("diagnosis", "drafted-order")

#: The optional prefetch keys whose absence a card can name (``PatientRecord.unavailable``, issue 16).
PREFETCH_KEYS: Final = ("encounters", "medicationrequests", "observations", "procedures", "servicerequests")


@dataclass(frozen=True, slots=True)
class CardContract:
    """What the rule for one recommendation hands to its card (the card file must give each of these words)."""

    #: ``Advice.facts`` keys the rule always supplies.
    facts: tuple[str, ...] = ()
    #: ``Advice.notes`` the rule may add, in the order their paragraphs appear.
    notes: tuple[str, ...] = ()
    #: Extra facts present only together with a note (usable only in that note's text).
    note_facts: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    #: Trigger roles the rule uses besides :data:`COMMON_ROLES`.
    roles: tuple[str, ...] = ()
    #: Suggestion kinds the rule may request.
    suggestions: tuple[SuggestionKind, ...] = ()

    @property
    def all_roles(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*COMMON_ROLES, *self.roles)))


@dataclass(frozen=True, slots=True)
class Recommendation:
    """One recommendation: its id, where and when its rule runs, and the contract with its card."""

    id: RecommendationId
    #: The rule's number in docs/clinical/reference.md §2.3 (e.g. ``R5``), for people and the review report.
    number: str
    #: Evaluation position among all rules (also the tie-break among advice of equal urgency); unique.
    order: int
    #: The hook moments the rule runs at.
    moments: frozenset[Moment]
    #: The rule: facts in, advice out (``None`` when it does not fire).
    judge: Callable[[Facts], Advice | None]
    contract: CardContract = CardContract()
    #: Recommendations whose condition (their ``suppresses_when``) keeps this rule from running.
    suppressed_by: tuple[RecommendationId, ...] = ()
    #: When this recommendation suppresses the rules that name it in ``suppressed_by`` (``None``: it never does).
    suppresses_when: Callable[[Facts], bool] | None = None
    #: The optional prefetch keys (:data:`PREFETCH_KEYS`) its facts read: the card names each one that could
    #: not be read (``Advice.data_gaps``).
    data_keys: frozenset[str] = frozenset()
    #: An escalation step: never fires while any prefetch key could not be read.
    escalation: bool = False
