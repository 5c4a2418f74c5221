"""The rule of ``pt-trial-in-progress``: when it fires and what it hands to its card."""

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
from service.pathway.rules._common import _iso
from service.pathway.rules._common import _pt_notes
from service.pathway.rules._common import _pt_sessions
from service.pathway.rules._common import _pt_values


def pt_trial_in_progress(facts: Facts) -> Advice | None:
    """R6 ``pt-trial-in-progress`` (docs/clinical/reference.md §2.3 R6, §2.2 adequate_pt_trial).

    When: at least one PT session-date of the course in the look-back and the course is not yet adequate
    (>= 6 session-dates over >= 8 weeks of treatment, first to last session; configurable; revision-2 C1).
    Then: info: trial in progress (weeks of treatment and session-dates shown); reassess at 8-12 weeks. Note
    ``stopped`` when the last session is >= 4 weeks ago ("no session since ...; resume or document why it
    stopped"), ``region-not-documented`` (C2), ``exercise-not-documented`` (C1).
    """
    pt = facts.pt
    if pt.sessions < 1 or pt.course_adequate:
        return None
    limits = facts.thresholds
    return _advice(
        facts,
        DECLARATION.id,
        Indicator.INFO,
        values={
            **_pt_values(facts),
            "pt_first": _iso(pt.first),
            "pt_last": _iso(pt.last),
            "min_weeks": str(limits.pt_min_weeks),
            "min_sessions": str(limits.pt_min_sessions),
        },
        notes=(["stopped"] if pt.stopped else []) + _pt_notes(facts),
        triggers=_pt_sessions(facts),
    )


DECLARATION = Recommendation(
    id=RecommendationId("pt-trial-in-progress"),
    number="R6",
    order=60,
    moments=RECORD_REVIEW,
    judge=pt_trial_in_progress,
    contract=CardContract(
        facts=("pt_weeks", "pt_sessions", "pt_first", "pt_last", "min_weeks", "min_sessions"),
        notes=("stopped", "region-not-documented", "exercise-not-documented"),
        roles=("pt-session",),
    ),
    suppressed_by=(OUT_OF_SCOPE_PEDIATRIC,),
    data_keys=PT_COURSE_KEYS,
)
