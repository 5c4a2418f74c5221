"""The rule of ``escalate-percutaneous``: when it fires and what it hands to its card."""

from __future__ import annotations

from service.pathway.advice import Advice
from service.pathway.advice import Indicator
from service.pathway.advice import RecommendationId
from service.pathway.declaration import CardContract
from service.pathway.declaration import Recommendation
from service.pathway.facts import Facts
from service.pathway.rules._common import OUT_OF_SCOPE_PEDIATRIC
from service.pathway.rules._common import PT_COURSE_KEYS
from service.pathway.rules._common import RECORD_REVIEW
from service.pathway.rules._common import RED_FLAGS
from service.pathway.rules._common import _advice
from service.pathway.rules._common import _failed_trial
from service.pathway.rules._common import _iso
from service.pathway.rules._common import _observations
from service.pathway.rules._common import _procedures


def escalate_percutaneous(facts: Facts) -> Advice | None:
    """R10 ``escalate-percutaneous`` (docs/clinical/reference.md §2.3 R10; docs/clinical/pathway.md step 3).

    When: no red flag, adequate PT trial, GON block done, response still inadequate, no percutaneous step yet.
    Then: info: consider cervical facet / medial branch blocks or a cervical epidural steroid injection;
    note ``anticoagulated`` (bleeding-risk management) when the patient is anticoagulated.
    """
    steps = facts.steps
    if not _failed_trial(facts) or not steps.step2_done or steps.step3_done:
        return None
    block = steps.last_gon_block
    return _advice(
        facts,
        DECLARATION.id,
        Indicator.INFO,
        values={
            "block_date": _iso(block.performed if block is not None else None),
            "response": facts.outcome.response or "",
        },
        notes=["anticoagulated"] if facts.anticoagulation else [],
        triggers=[*_procedures(steps.gon_blocks, "prior-procedure"), *_observations(facts.outcome.observations)],
    )


DECLARATION = Recommendation(
    id=RecommendationId("escalate-percutaneous"),
    number="R10",
    order=90,
    moments=RECORD_REVIEW,
    judge=escalate_percutaneous,
    contract=CardContract(
        facts=("block_date", "response"), notes=("anticoagulated",), roles=("prior-procedure", "outcome")
    ),
    suppressed_by=(OUT_OF_SCOPE_PEDIATRIC, RED_FLAGS),
    data_keys=PT_COURSE_KEYS,
    escalation=True,
)
