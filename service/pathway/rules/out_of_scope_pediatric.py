"""The rule of ``out-of-scope-pediatric``: when it fires and what it hands to its card."""

from __future__ import annotations

from service.pathway.advice import Advice
from service.pathway.advice import Indicator
from service.pathway.advice import RecommendationId
from service.pathway.declaration import CardContract
from service.pathway.declaration import Recommendation
from service.pathway.facts import Facts
from service.pathway.rules._common import ALL_MOMENTS
from service.pathway.rules._common import _advice


def out_of_scope_pediatric(facts: Facts) -> Advice | None:
    """R1 ``out-of-scope-pediatric`` (docs/clinical/reference.md §2.3 R1, §2.4).

    When: CGH is active (confirmed or suspected) and the patient is younger than 18.
    Then: info: the adult pathway does not apply; revision 2 C4: only the adult-pathway cards are suppressed
    (those naming it in ``suppressed_by``); every safety card still fires.
    """
    if not facts.pediatric or facts.age is None:
        return None
    return _advice(facts, DECLARATION.id, Indicator.INFO, values={"age": str(facts.age)})


def is_pediatric(facts: Facts) -> bool:
    """R1 as revision 2 C4 narrows it: under 18 the adult pathway is left out; every safety card still fires."""
    return facts.pediatric


DECLARATION = Recommendation(
    id=RecommendationId("out-of-scope-pediatric"),
    number="R1",
    order=10,
    moments=ALL_MOMENTS,
    judge=out_of_scope_pediatric,
    contract=CardContract(facts=("age",)),
    suppresses_when=is_pediatric,
)
