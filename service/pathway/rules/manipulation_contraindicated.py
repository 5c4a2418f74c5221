"""The rule of ``manipulation-contraindicated``: when it fires and what it hands to its card."""

from __future__ import annotations

from service.pathway.advice import Advice
from service.pathway.advice import Indicator
from service.pathway.advice import RecommendationId
from service.pathway.advice import SuggestionKind
from service.pathway.declaration import CardContract
from service.pathway.declaration import Recommendation
from service.pathway.facts import DISSECTION_WORKUP
from service.pathway.facts import OTHER_REGION
from service.pathway.facts import Facts
from service.pathway.facts import Finding
from service.pathway.facts import OrderKind
from service.pathway.rules._common import ORDER_MOMENTS
from service.pathway.rules._common import _advice
from service.pathway.rules._common import _findings
from service.pathway.rules._common import _join
from service.pathway.rules._common import _manipulation_name
from service.pathway.rules._common import _order_list
from service.pathway.rules._common import _orders

ABSOLUTE = "absolute"


RELATIVE = "relative"


#: Contraindication categories that drop to a warning when the manipulation orders document only a region
#: other than the neck (revision-2 C19: arterial and instability contraindications).
_NECK_ONLY_CATEGORIES = frozenset(
    {"dissection", "vascular-event", "vertebrobasilar", DISSECTION_WORKUP, "congenital-instability", "instability"}
)


def manipulation_contraindicated(facts: Facts) -> Advice | None:
    """R7 ``manipulation-contraindicated`` (docs/clinical/reference.md §2.3 R7, §2.6; revision-2 C05, C06, C07, C19).

    When: spinal manipulation (chiropractic/osteopathic manipulation, or a PT order documenting a cervical
    thrust) is among the judged orders and there is a contraindication (active, or history for the C05 groups:
    "history of …, resolved 2023") or a red flag.
    Then: critical (note ``absolute``) for an absolute-tier contraindication (dissection, stroke/TIA,
    vertebro-basilar disease, Down syndrome / congenital instability, recent neck trauma, myelopathy, spinal
    malignancy or infection, neurological signs, a vascular work-up in progress: note ``workup``); otherwise
    warning (note ``relative``). When every manipulation order documents only a region other than the neck,
    arterial and instability contraindications drop to the warning tier (note ``other-region``). Suggest
    replacing it with a PT referral.
    """
    orders = facts.judged(OrderKind.MANIPULATION)
    if not orders or not (facts.contraindications or facts.red_flags):
        return None
    other_region = all(order.region == OTHER_REGION for order in orders)

    def tier(finding: Finding) -> str | None:
        if other_region and finding.category in _NECK_ONLY_CATEGORIES:
            return RELATIVE
        return finding.tier

    absolute = any(tier(f) == ABSOLUTE for f in facts.contraindications)
    reasons = [f.label for f in facts.contraindications if tier(f) == ABSOLUTE]
    reasons += [f.label for f in facts.contraindications if tier(f) != ABSOLUTE]
    reasons += [f.label for f in facts.red_flags]
    notes = [ABSOLUTE if absolute else RELATIVE]
    if any(f.category == DISSECTION_WORKUP for f in facts.contraindications):
        notes.append("workup")
    if other_region and any(f.category in _NECK_ONLY_CATEGORIES for f in facts.contraindications):
        notes.append("other-region")
    return _advice(
        facts,
        DECLARATION.id,
        Indicator.CRITICAL if absolute else Indicator.WARNING,
        values={"reasons": _join(reasons), "orders": _order_list(orders), "manipulation": _manipulation_name(orders)},
        notes=notes,
        triggers=[
            *_findings(facts.contraindications, "contraindication"),
            *_findings(facts.red_flags, "red-flag"),
            *_orders(orders),
        ],
        orders=orders,
        suggestions=[SuggestionKind.REPLACE_WITH_PT_REFERRAL],
    )


DECLARATION = Recommendation(
    id=RecommendationId("manipulation-contraindicated"),
    number="R7",
    order=130,
    moments=ORDER_MOMENTS,
    judge=manipulation_contraindicated,
    contract=CardContract(
        facts=("reasons", "orders", "manipulation"),
        notes=(ABSOLUTE, RELATIVE, "workup", "other-region"),
        roles=("contraindication", "red-flag"),
        suggestions=(SuggestionKind.REPLACE_WITH_PT_REFERRAL,),
    ),
    data_keys=frozenset({"medicationrequests"}),
)
