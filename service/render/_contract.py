"""What each recommendation's card may use: the contracts its rule declares, and how suggestions are offered.

:data:`CONTRACTS` is derived from the declarations beside the rules (``service/pathway/rules/``; the catalogue
document printed by ``cgh-cds catalogue`` is generated from the same declarations). The card loader checks
every card file against it at start-up (a template may use only the facts listed for its id; every listed
note needs text; every trigger role a rule uses needs a label; every suggestion a rule may request needs a
label), and the renderer checks each ``Advice`` against it.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from service.pathway.advice import RecommendationId
from service.pathway.advice import SuggestionKind
from service.pathway.declaration import COMMON_ROLES as COMMON_ROLES
from service.pathway.declaration import CardContract as CardContract
from service.pathway.rules import RULES

#: Suggestion keys: how the renderer names the suggestions it can build, and the content keys that label them.
CREATE_PT_REFERRAL: Final = "create-pt-referral"
DELETE_ORDERS: Final = "delete-orders"
DELETE_ORDERS_WITH_PT_REFERRAL: Final = "delete-orders-with-pt-referral"
REPLACE_WITH_PT_REFERRAL: Final = "replace-with-pt-referral"
CREATE_GON_BLOCK: Final = "create-gon-block"

#: Each recommendation's card contract, in evaluation order, as its declaration states it.
CONTRACTS: Final[MappingProxyType[RecommendationId, CardContract]] = MappingProxyType(
    {rule.id: rule.contract for rule in RULES}
)


def contract_suggestion_keys(contract: CardContract) -> tuple[str, ...]:
    """The content keys (labels) a card must define for the suggestions its rule can request."""
    return tuple(dict.fromkeys(key for kinds in _reachable(contract.suggestions) for key in plan(kinds)))


def plan(kinds: tuple[SuggestionKind, ...] | frozenset[SuggestionKind]) -> tuple[str, ...]:
    """The suggestions (by key) a card offers for the requested ``kinds``, most recommended first.

    Semantics: a PT referral requested together with order deletion is offered as one combined suggestion
    (delete + create) with the deletion alone as the alternative; a replacement already creates the PT
    referral, so a separate PT referral request is absorbed by it.
    """
    requested = frozenset(kinds)
    keys: list[str] = []
    if SuggestionKind.REPLACE_WITH_PT_REFERRAL in requested:
        keys.append(REPLACE_WITH_PT_REFERRAL)
    if SuggestionKind.DELETE_ORDERS in requested:
        if SuggestionKind.CREATE_PT_REFERRAL in requested and not keys:
            keys.append(DELETE_ORDERS_WITH_PT_REFERRAL)
        keys.append(DELETE_ORDERS)
    elif SuggestionKind.CREATE_PT_REFERRAL in requested and not keys:
        keys.append(CREATE_PT_REFERRAL)
    if SuggestionKind.CREATE_GON_BLOCK in requested:
        keys.append(CREATE_GON_BLOCK)
    return tuple(keys)


def _reachable(allowed: tuple[SuggestionKind, ...]) -> list[tuple[SuggestionKind, ...]]:
    """The kind combinations a rule can request: each allowed kind alone, and all of them together.

    A PT referral on a card that deletes orders is only ever requested with the deletion (the catalogue:
    "delete-orders (+ create-pt-referral when no PT yet)"), so it is not reachable alone there.
    """
    combos: list[tuple[SuggestionKind, ...]] = [tuple(allowed)] if allowed else []
    for kind in allowed:
        if kind is SuggestionKind.CREATE_PT_REFERRAL and SuggestionKind.DELETE_ORDERS in allowed:
            continue
        combos.append((kind,))
    return combos
