"""The rule of ``escalate-occipital-nerve-block``: when it fires and what it hands to its card."""

from __future__ import annotations

from service.pathway.advice import Advice
from service.pathway.advice import Indicator
from service.pathway.advice import RecommendationId
from service.pathway.advice import SuggestionKind
from service.pathway.declaration import CardContract
from service.pathway.declaration import Recommendation
from service.pathway.facts import Facts
from service.pathway.rules._common import OUT_OF_SCOPE_PEDIATRIC
from service.pathway.rules._common import PT_COURSE_KEYS
from service.pathway.rules._common import RECORD_REVIEW
from service.pathway.rules._common import RED_FLAGS
from service.pathway.rules._common import _advice
from service.pathway.rules._common import _failed_trial
from service.pathway.rules._common import _observations
from service.pathway.rules._common import _pt_sessions
from service.pathway.rules._common import _pt_values


def escalate_occipital_nerve_block(facts: Facts) -> Advice | None:
    """R9 ``escalate-occipital-nerve-block`` (docs/clinical/reference.md §2.3 R9; docs/clinical/pathway.md step 2).

    When: no red flag, adequate PT trial, documented inadequate response, and no GON block (nor a later step)
    done yet.
    Then: info: consider a greater occipital nerve block (short-term relief; its relief can support, never
    establish, the diagnosis: revision-2 §2); suggest the block order citing the CGH Condition.
    """
    if not _failed_trial(facts) or facts.steps.step2_done or facts.steps.step3_done:
        return None
    return _advice(
        facts,
        DECLARATION.id,
        Indicator.INFO,
        values={**_pt_values(facts), "response": facts.outcome.response or ""},
        notes=[] if facts.pt.exercise_documented else ["exercise-not-documented"],
        triggers=[*_pt_sessions(facts), *_observations(facts.outcome.observations)],
        suggestions=[SuggestionKind.CREATE_GON_BLOCK],
    )


DECLARATION = Recommendation(
    id=RecommendationId("escalate-occipital-nerve-block"),
    number="R9",
    order=80,
    moments=RECORD_REVIEW,
    judge=escalate_occipital_nerve_block,
    contract=CardContract(
        facts=("pt_weeks", "pt_sessions", "response"),
        notes=("exercise-not-documented",),
        roles=("pt-session", "outcome"),
        suggestions=(SuggestionKind.CREATE_GON_BLOCK,),
    ),
    suppressed_by=(OUT_OF_SCOPE_PEDIATRIC, RED_FLAGS),
    data_keys=PT_COURSE_KEYS,
    escalation=True,
)
