"""The rule of ``imaging-not-indicated``: when it fires and what it hands to its card."""

from __future__ import annotations

from service.pathway.advice import Advice
from service.pathway.advice import Indicator
from service.pathway.advice import RecommendationId
from service.pathway.advice import SuggestionKind
from service.pathway.declaration import CardContract
from service.pathway.declaration import Recommendation
from service.pathway.facts import Facts
from service.pathway.facts import OrderKind
from service.pathway.rules._common import ORDER_MOMENTS
from service.pathway.rules._common import OUT_OF_SCOPE_PEDIATRIC
from service.pathway.rules._common import RED_FLAGS
from service.pathway.rules._common import _advice
from service.pathway.rules._common import _order_list
from service.pathway.rules._common import _orders


def imaging_not_indicated(facts: Facts) -> Advice | None:
    """R4 ``imaging-not-indicated`` (docs/clinical/reference.md §2.3 R4, §1.5; ACR AC Headache).

    When: cervical-spine or head imaging is among the judged orders and there is no red flag (vascular
    imaging is itself a red flag: dissection suspected).
    Then: warning: imaging does not diagnose CGH; suggest deleting the drafted orders, and when there is no
    PT yet (note ``no-pt-yet``) propose a PT referral too.
    """
    orders = facts.judged(OrderKind.SPINE_IMAGING, OrderKind.HEAD_IMAGING)
    # revision-2 C08: a history of malignancy or immunosuppression never lets imaging be discouraged.
    if not orders or facts.red_flags or facts.imaging_history:
        return None
    no_pt = not facts.pt_planned
    suggestions = [SuggestionKind.DELETE_ORDERS] + ([SuggestionKind.CREATE_PT_REFERRAL] if no_pt else [])
    return _advice(
        facts,
        DECLARATION.id,
        Indicator.WARNING,
        values={"orders": _order_list(orders)},
        notes=["no-pt-yet"] if no_pt else [],
        triggers=_orders(orders),
        orders=orders,
        suggestions=suggestions,
    )


DECLARATION = Recommendation(
    id=RecommendationId("imaging-not-indicated"),
    number="R4",
    order=110,
    moments=ORDER_MOMENTS,
    judge=imaging_not_indicated,
    contract=CardContract(
        facts=("orders",),
        notes=("no-pt-yet",),
        suggestions=(SuggestionKind.DELETE_ORDERS, SuggestionKind.CREATE_PT_REFERRAL),
    ),
    suppressed_by=(OUT_OF_SCOPE_PEDIATRIC, RED_FLAGS),
    data_keys=frozenset({"observations", "servicerequests"}),
)
