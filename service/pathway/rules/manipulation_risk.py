"""The rule of ``manipulation-risk``: when it fires and what it hands to its card."""

from __future__ import annotations

from service.pathway.advice import Advice
from service.pathway.advice import Indicator
from service.pathway.advice import RecommendationId
from service.pathway.facts import Facts
from service.pathway.facts import OrderKind
from service.pathway.rules._common import _advice
from service.pathway.rules._common import _manipulation_name
from service.pathway.rules._common import _order_list
from service.pathway.rules._common import _orders


def manipulation_risk(facts: Facts) -> Advice | None:
    """R7b ``manipulation-risk`` (docs/clinical/reference.md §2.3 R7b; Fernández-de-las-Peñas & Cuadrado 2014;
    revision-2 C19).

    When: spinal manipulation is among the judged orders with no contraindication and no red flag.
    Then: info: rare serious harms are reported; lower-risk techniques are preferred where the evidence is
    equivalent; screen per IFOMPT first. "Cervical" only when an order documents the neck.
    """
    orders = facts.judged(OrderKind.MANIPULATION)
    if not orders or facts.contraindications or facts.red_flags:
        return None
    return _advice(
        facts,
        RecommendationId.MANIPULATION_RISK,
        Indicator.INFO,
        values={"orders": _order_list(orders), "manipulation": _manipulation_name(orders)},
        triggers=_orders(orders),
        orders=orders,
    )
