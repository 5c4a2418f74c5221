"""The rule of ``escalation-premature``: when it fires and what it hands to its card."""

from __future__ import annotations

from types import MappingProxyType

from service.pathway.advice import Advice
from service.pathway.advice import Indicator
from service.pathway.advice import RecommendationId
from service.pathway.declaration import CardContract
from service.pathway.declaration import Recommendation
from service.pathway.facts import ESCALATION_KINDS
from service.pathway.facts import DraftOrder
from service.pathway.facts import Facts
from service.pathway.facts import OrderKind
from service.pathway.rules._common import ORDER_MOMENTS
from service.pathway.rules._common import PT_COURSE_KEYS
from service.pathway.rules._common import _advice
from service.pathway.rules._common import _join
from service.pathway.rules._common import _observations
from service.pathway.rules._common import _orders
from service.pathway.rules._common import _prior_steps
from service.pathway.rules._common import _procedures
from service.pathway.rules._common import _pt_sessions


def _missing_trial(facts: Facts) -> str:
    """What the trial still lacks (revision-2 C1: no session-count-only alternative; C2: documented region)."""
    t = facts.thresholds
    trial = f"an adequate PT trial ({t.pt_min_sessions} sessions over {t.pt_min_weeks} weeks of treatment"
    if facts.pt.course_adequate:
        return trial + "; region of the PT course not documented)"
    return trial + ")"


def escalation_premature(facts: Facts) -> Advice | None:
    """R9b / R10b / R11b ``escalation-premature`` (docs/clinical/reference.md §2.3; docs/clinical/pathway.md
    "Sequencing").

    When: among the judged orders, a GON block without an adequate PT trial (R9b); a percutaneous
    intervention without an adequate PT trial and a GON block (R10b); RF, surgery or botulinum toxin without a
    confirmed diagnosis and a completed percutaneous step (R11b); any of them after an adequate trial whose
    latest response is adequate (revision-2 C17: the current step is working). Earlier steps count within 24
    months and with a cervical site (facts.steps). A toxin order for another condition is not judged (C18).
    Then: warning naming the early orders, which step each is (notes ``gon-block``, ``percutaneous``,
    ``refractory``, ``current-step-working`` with fact ``latest_response``) and what the pathway still lacks (fact
    ``missing``).
    """
    pt_adequate = facts.pt.adequate
    steps = facts.steps
    early: list[DraftOrder] = []
    notes: list[str] = []
    missing: list[str] = []
    values: dict[str, str] = {}
    working = pt_adequate and facts.outcome.has_data and not facts.outcome.inadequate
    escalations = facts.judged_escalations(*ESCALATION_KINDS)
    if working and escalations:
        early += escalations
        notes.append("current-step-working")
        missing.append("an inadequate response to the current step")
        values["latest_response"] = facts.outcome.response or ""
    gon = facts.judged_escalations(OrderKind.GON_BLOCK)
    if gon and not pt_adequate:
        early += gon
        notes.append("gon-block")
        missing.append(_missing_trial(facts))
    percutaneous = facts.judged_escalations(OrderKind.PERCUTANEOUS)
    if percutaneous and not (pt_adequate and steps.step2_done):
        early += percutaneous
        notes.append("percutaneous")
        missing += ([] if pt_adequate else [_missing_trial(facts)]) + (
            [] if steps.step2_done else ["a greater occipital nerve block"]
        )
    refractory = facts.judged_escalations(OrderKind.REFRACTORY, OrderKind.TOXIN)
    if refractory and not (facts.confirmed_for_step4 and steps.step3_done):
        early += refractory
        notes.append("refractory")
        missing += ([] if facts.confirmed_for_step4 else ["a confirmed diagnosis (ICHD-3 11.2.1)"]) + (
            [] if steps.step3_done else ["a completed percutaneous step (facet or epidural injection)"]
        )
    if not early:
        return None
    early = list(dict.fromkeys(early))
    return _advice(
        facts,
        DECLARATION.id,
        Indicator.WARNING,
        values={"orders": _join((o.label for o in early), "; "), "missing": _join(missing, "; "), **values},
        notes=notes,
        triggers=[
            *_orders(early),
            *_pt_sessions(facts),
            *_procedures(_prior_steps(facts), "prior-procedure"),
            *(_observations(facts.outcome.observations) if working else []),
        ],
        orders=early,
    )


DECLARATION = Recommendation(
    id=RecommendationId("escalation-premature"),
    number="R9b/R10b/R11b",
    order=170,
    moments=ORDER_MOMENTS,
    judge=escalation_premature,
    contract=CardContract(
        facts=("orders", "missing"),
        notes=("current-step-working", "gon-block", "percutaneous", "refractory"),
        note_facts=MappingProxyType({"current-step-working": ("latest_response",)}),
        roles=("pt-session", "prior-procedure", "outcome"),
    ),
    data_keys=PT_COURSE_KEYS,
)
