"""The rule of ``pt-first-line``: when it fires and what it hands to its card."""

from __future__ import annotations

from service.pathway.advice import Advice
from service.pathway.advice import Indicator
from service.pathway.advice import Moment
from service.pathway.advice import RecommendationId
from service.pathway.advice import SuggestionKind
from service.pathway.declaration import CardContract
from service.pathway.declaration import Recommendation
from service.pathway.facts import ESCALATION_KINDS
from service.pathway.facts import DraftOrder
from service.pathway.facts import Facts
from service.pathway.rules._common import ALL_MOMENTS
from service.pathway.rules._common import OUT_OF_SCOPE_PEDIATRIC
from service.pathway.rules._common import PT_COURSE_KEYS
from service.pathway.rules._common import RED_FLAGS
from service.pathway.rules._common import _advice
from service.pathway.rules._common import _orders
from service.pathway.rules._common import _prior_steps
from service.pathway.rules._common import _procedures


def pt_first_line(facts: Facts) -> Advice | None:
    """R5 ``pt-first-line`` (docs/clinical/reference.md §2.3 R5; docs/clinical/pathway.md step 1).

    When (record review): CGH is active, no red flag, no PT session in the look-back and no active PT
    referral. When (order hooks): an escalation (GON block, percutaneous, refractory, toxin) is among the
    judged orders and there is no PT in the look-back, referral or drafts (note ``escalation-ordered``).
    PT sessions without a documented region count as PT under way; sessions for another region do not
    (revision-2 C2, note ``other-region``); a completed PT referral counts (revision-2 C3).
    Then: info: PT for 8-12 weeks first; suggest a PT referral citing the CGH Condition. Note ``prior-block``
    when a block or later step was done without PT.
    """
    if facts.pt_planned:
        return None
    prior = _prior_steps(facts)
    notes = ["prior-block"] if prior else []
    if facts.pt.other_region:
        notes.append("other-region")
    escalations: tuple[DraftOrder, ...] = ()
    if facts.moment is not Moment.RECORD_REVIEW:
        escalations = facts.judged_escalations(*ESCALATION_KINDS)
        if not escalations:
            return None
        notes.append("escalation-ordered")
    return _advice(
        facts,
        DECLARATION.id,
        Indicator.INFO,
        notes=notes,
        triggers=[*_procedures(prior, "prior-procedure"), *_orders(escalations)],
        orders=escalations,
        suggestions=[SuggestionKind.CREATE_PT_REFERRAL],
    )


DECLARATION = Recommendation(
    id=RecommendationId("pt-first-line"),
    number="R5",
    order=50,
    moments=ALL_MOMENTS,
    judge=pt_first_line,
    contract=CardContract(
        notes=("prior-block", "escalation-ordered", "other-region"),
        roles=("prior-procedure",),
        suggestions=(SuggestionKind.CREATE_PT_REFERRAL,),
    ),
    suppressed_by=(OUT_OF_SCOPE_PEDIATRIC, RED_FLAGS),
    data_keys=PT_COURSE_KEYS,
)
