"""The cervicogenic headache pathway: pure rules from a ``PatientRecord`` to ``Advice``.

No Flask, no I/O, no JSON, no ``date.today()``: the caller passes ``today``. See ``README.md`` in this folder.
"""

from __future__ import annotations

from service.pathway.advice import Advice
from service.pathway.advice import Indicator
from service.pathway.advice import Moment
from service.pathway.advice import RecommendationId
from service.pathway.advice import SuggestionKind
from service.pathway.advice import Trigger
from service.pathway.engine import evaluate
from service.pathway.facts import encounter_is_used
from service.pathway.facts import observation_is_used
from service.pathway.thresholds import PathwayThresholds

__all__ = [
    "Advice",
    "Indicator",
    "Moment",
    "PathwayThresholds",
    "RecommendationId",
    "SuggestionKind",
    "Trigger",
    "encounter_is_used",
    "evaluate",
    "observation_is_used",
]
