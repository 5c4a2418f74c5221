"""The rule of ``differential-diagnosis``: when it fires and what it hands to its card."""

from __future__ import annotations

from service.pathway.advice import Advice
from service.pathway.advice import Indicator
from service.pathway.advice import RecommendationId
from service.pathway.declaration import CardContract
from service.pathway.declaration import Recommendation
from service.pathway.facts import MEDICATION_OVERUSE
from service.pathway.facts import MIGRAINE
from service.pathway.facts import SIH
from service.pathway.facts import Facts
from service.pathway.rules._common import RECORD_REVIEW
from service.pathway.rules._common import _advice
from service.pathway.rules._common import _findings
from service.pathway.rules._common import _join


def differential_diagnosis(facts: Facts) -> Advice | None:
    """R3 ``differential-diagnosis`` (docs/clinical/reference.md §2.3 R3, §1.9).

    When: CGH is active with a competing diagnosis: migraine, tension-type headache, POTS, orthostatic
    hypotension, spontaneous intracranial hypotension / orthostatic headache, or medication-overuse headache.
    Then: info: confirm ICHD-3 11.2.1 criterion D (not better accounted for by another diagnosis). Warning,
    note ``orthostatic``, for SIH / orthostatic headache; warning, note ``medication-overuse``, for
    medication-overuse headache (revision-2 C13: plan withdrawal; taper butalbital and opioids).
    """
    if not facts.differentials:
        return None
    categories = {finding.category for finding in facts.differentials}
    orthostatic = SIH in categories
    overuse = MEDICATION_OVERUSE in categories
    notes = (
        (["orthostatic"] if orthostatic else [])
        + (["medication-overuse"] if overuse else [])
        + (["migraine"] if MIGRAINE in categories else [])
    )
    return _advice(
        facts,
        DECLARATION.id,
        Indicator.WARNING if orthostatic or overuse else Indicator.INFO,
        values={"differentials": _join(f.label for f in facts.differentials)},
        notes=notes,
        triggers=_findings(facts.differentials, "differential"),
    )


DECLARATION = Recommendation(
    id=RecommendationId("differential-diagnosis"),
    number="R3",
    order=30,
    moments=RECORD_REVIEW,
    judge=differential_diagnosis,
    contract=CardContract(
        facts=("differentials",), notes=("orthostatic", "medication-overuse", "migraine"), roles=("differential",)
    ),
)
