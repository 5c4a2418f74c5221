"""The rule of ``refractory-options``: when it fires and what it hands to its card."""

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
from service.pathway.rules._common import _observations
from service.pathway.rules._common import _prior_steps
from service.pathway.rules._common import _procedures


def refractory_options(facts: Facts) -> Advice | None:
    """R11 ``refractory-options`` (docs/clinical/reference.md §2.3 R11; docs/clinical/pathway.md step 4).

    When: no red flag, confirmed diagnosis (a confirmed G44.86, or >= 80 % relief on controlled cervical medial
    branch blocks: revision-2 C16), adequate PT trial, percutaneous step done, response still inadequate.
    Then: info: RF neurotomy, botulinum toxin A (weak evidence), surgical decompression referral.
    """
    if not _failed_trial(facts) or not facts.steps.step3_done or not facts.confirmed_for_step4:
        return None
    return _advice(
        facts,
        DECLARATION.id,
        Indicator.INFO,
        values={"response": facts.outcome.response or ""},
        triggers=[*_procedures(_prior_steps(facts), "prior-procedure"), *_observations(facts.outcome.observations)],
    )


DECLARATION = Recommendation(
    id=RecommendationId("refractory-options"),
    number="R11",
    order=100,
    moments=RECORD_REVIEW,
    judge=refractory_options,
    contract=CardContract(facts=("response",), roles=("prior-procedure", "outcome")),
    suppressed_by=(OUT_OF_SCOPE_PEDIATRIC, RED_FLAGS),
    data_keys=PT_COURSE_KEYS,
    escalation=True,
)
