"""The rule of ``botulinum-pregnancy``: when it fires and what it hands to its card."""

from __future__ import annotations

from service.pathway.advice import Advice
from service.pathway.advice import Indicator
from service.pathway.advice import RecommendationId
from service.pathway.facts import Facts
from service.pathway.facts import OrderKind
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
        RecommendationId.BOTULINUM_PREGNANCY,
        Indicator.WARNING,
        values={"orders": _order_list(orders)},
        triggers=[*_orders(orders), *_findings(facts.pregnancy.evidence, "pregnancy")],
        orders=orders,
    )
