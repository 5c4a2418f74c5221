"""The rule of ``manipulation-risk``: when it fires and what it hands to its card."""

from __future__ import annotations

from service.pathway.advice import Advice
from service.pathway.advice import Indicator
from service.pathway.advice import RecommendationId
from service.pathway.declaration import CardContract
from service.pathway.declaration import Recommendation
from service.pathway.facts import Facts
from service.pathway.facts import OrderKind
from service.pathway.rules._common import ORDER_MOMENTS
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
        DECLARATION.id,
        Indicator.INFO,
        values={"orders": _order_list(orders), "manipulation": _manipulation_name(orders)},
        triggers=_orders(orders),
        orders=orders,
    )


DECLARATION = Recommendation(
    id=RecommendationId("manipulation-risk"),
    number="R7b",
    order=140,
    moments=ORDER_MOMENTS,
    judge=manipulation_risk,
    contract=CardContract(facts=("orders", "manipulation")),
    data_keys=frozenset({"medicationrequests"}),
)
