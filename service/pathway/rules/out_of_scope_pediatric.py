"""The rule of ``out-of-scope-pediatric``: when it fires and what it hands to its card."""

from __future__ import annotations

from service.pathway.advice import Advice
from service.pathway.advice import Indicator
from service.pathway.advice import RecommendationId
from service.pathway.facts import Facts
from service.pathway.rules._common import _advice


def out_of_scope_pediatric(facts: Facts) -> Advice | None:
    """R1 ``out-of-scope-pediatric`` (docs/clinical/reference.md §2.3 R1, §2.4).

    When: CGH is active (confirmed or suspected) and the patient is younger than 18.
    Then: info: the adult pathway does not apply; revision 2 C4: only the adult-pathway cards are suppressed
    (see :class:`Rule`), every safety card still fires.
    """
    if not facts.pediatric or facts.age is None:
        return None
    return _advice(facts, RecommendationId.OUT_OF_SCOPE_PEDIATRIC, Indicator.INFO, values={"age": str(facts.age)})
