"""The rule of ``new-recommendation``: when it fires and what it hands to its card.

A template (CONTRIBUTING.md): copy it to ``service/pathway/rules/<your_id_with_underscores>.py``, replace every
``new-recommendation`` / ``new_recommendation`` with your id, and state your rule's condition. The example
condition below (a drafted spinal manipulation) only shows the shape.
"""

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
from service.pathway.rules._common import _order_list
from service.pathway.rules._common import _orders


def new_recommendation(facts: Facts) -> Advice | None:
    """Rn ``new-recommendation`` (docs/clinical/reference.md §2.3 Rn: cite the source of the rule).

    When: spinal manipulation is among the judged orders (state the condition in words).
    Then: info: what the card recommends (the wording itself lives in the card file).
    """
    orders = facts.judged(OrderKind.MANIPULATION)
    if not orders:
        return None
    return _advice(
        facts,
        DECLARATION.id,
        Indicator.INFO,
        values={"orders": _order_list(orders)},
        triggers=_orders(orders),
        orders=orders,
    )


DECLARATION = Recommendation(
    id=RecommendationId("new-recommendation"),
    number="Rn",
    #: After every rule of today (the last is 180): evaluation order, and the tie-break among equal urgency.
    order=190,
    moments=ORDER_MOMENTS,
    judge=new_recommendation,
    contract=CardContract(facts=("orders",)),
)
