"""The rule of ``botulinum-pregnancy``: when it fires and what it hands to its card."""

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
from service.pathway.rules._common import _findings
from service.pathway.rules._common import _order_list
from service.pathway.rules._common import _orders


def botulinum_pregnancy(facts: Facts) -> Advice | None:
    """R11c ``botulinum-pregnancy`` (docs/clinical/reference.md §2.3 R11c, §2.5).

    When: botulinum toxin is among the judged orders and the patient is pregnant.
    Then: warning: limited human pregnancy data; defer elective use.
    """
    orders = facts.judged(OrderKind.TOXIN)
    if not orders or not facts.pregnancy.pregnant:
        return None
    return _advice(
        facts,
        DECLARATION.id,
        Indicator.WARNING,
        values={"orders": _order_list(orders)},
        triggers=[*_orders(orders), *_findings(facts.pregnancy.evidence, "pregnancy")],
        orders=orders,
    )


DECLARATION = Recommendation(
    id=RecommendationId("botulinum-pregnancy"),
    number="R11c",
    order=180,
    moments=ORDER_MOMENTS,
    judge=botulinum_pregnancy,
    contract=CardContract(facts=("orders",), roles=("pregnancy",)),
    data_keys=frozenset({"observations"}),
)
