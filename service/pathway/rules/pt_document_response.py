"""The rule of ``pt-document-response``: when it fires and what it hands to its card."""

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
from service.pathway.rules._common import _advice
from service.pathway.rules._common import _pt_notes
from service.pathway.rules._common import _pt_sessions
from service.pathway.rules._common import _pt_values
from service.pathway.rules._common import _referrals


def pt_document_response(facts: Facts) -> Advice | None:
    """``pt-document-response`` (docs/clinical/reference.md §2.2 inadequate_response: "if no outcome data exist, do not
    infer failure").

    When: the PT course is adequate but there is no usable outcome data (no explicit response, or no
    baseline and 8-week follow-up headache frequency, note ``no-outcome``), or the response is inadequate but
    the course's region is not documented, so it cannot count for escalation (note ``region-not-documented``,
    revision-2 C2); or a PT referral was completed in the look-back and none of its sessions is on record
    (note ``course-completed``, revision-2 C3).
    Then: info: document the response (and the region, the sessions) before any escalation (the service never
    escalates without it).
    """
    pt = facts.pt
    if pt.sessions == 0 and pt.completed_referrals:
        return _advice(
            facts,
            DECLARATION.id,
            Indicator.INFO,
            values=_pt_values(facts),
            notes=["course-completed"],
            triggers=_referrals(pt.completed_referrals),
        )
    outcome = facts.outcome
    if not pt.course_adequate or (outcome.has_data and (pt.adequate or not outcome.inadequate)):
        return None
    return _advice(
        facts,
        DECLARATION.id,
        Indicator.INFO,
        values=_pt_values(facts),
        notes=([] if outcome.has_data else ["no-outcome"]) + _pt_notes(facts),
        triggers=_pt_sessions(facts),
    )


DECLARATION = Recommendation(
    id=RecommendationId("pt-document-response"),
    number="2.2",
    order=70,
    moments=RECORD_REVIEW,
    judge=pt_document_response,
    contract=CardContract(
        facts=("pt_weeks", "pt_sessions"),
        notes=("course-completed", "region-not-documented", "no-outcome", "exercise-not-documented"),
        roles=("pt-session", "pt-referral"),
    ),
    suppressed_by=(OUT_OF_SCOPE_PEDIATRIC,),
    data_keys=PT_COURSE_KEYS,
)
