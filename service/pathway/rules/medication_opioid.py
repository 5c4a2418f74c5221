"""The rule of ``medication-opioid``: when it fires and what it hands to its card."""

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

#: Under this age codeine and tramadol are contraindicated (FDA 2017 Drug Safety Communication; revision 2 C4).
CODEINE_TRAMADOL_CONTRAINDICATED_AGE = 12


def medication_opioid(facts: Facts) -> Advice | None:
    """R8 ``medication-opioid`` (docs/clinical/reference.md §2.3 R8, §1.7; revision 2 C4, C12).

    When: an opioid or a butalbital product is among the judged orders (treatment of opioid use disorder is
    not an opioid order: see :func:`service.pathway.facts.classify`).
    Then: warning: no medication is consistently effective for CGH; avoid opioids; PT first. Note
    ``butalbital`` (avoid; high risk of medication-overuse headache) for butalbital products. Under 18, note
    ``codeine-tramadol-child`` for codeine or tramadol (FDA 2017), critical under 12 (contraindicated).
    """
    orders = facts.judged(OrderKind.OPIOID, OrderKind.BUTALBITAL)
    if not orders:
        return None
    notes: list[str] = []
    indicator = Indicator.WARNING
    if facts.pediatric and facts.age is not None and any(OrderKind.CODEINE_TRAMADOL in o.kinds for o in orders):
        notes.append("codeine-tramadol-child")
        if facts.age < CODEINE_TRAMADOL_CONTRAINDICATED_AGE:
            indicator = Indicator.CRITICAL
    if any(OrderKind.BUTALBITAL in o.kinds for o in orders):
        notes.append("butalbital")
    return _advice(
        facts,
        DECLARATION.id,
        indicator,
        values={"medications": _order_list(orders)},
        notes=notes,
        triggers=_orders(orders),
        orders=orders,
    )


DECLARATION = Recommendation(
    id=RecommendationId("medication-opioid"),
    number="R8",
    order=150,
    moments=ORDER_MOMENTS,
    judge=medication_opioid,
    contract=CardContract(facts=("medications",), notes=("codeine-tramadol-child", "butalbital")),
)
