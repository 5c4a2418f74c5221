"""Which rules use which value set, as derived from the pathway's source (service.governance.usage)."""

from __future__ import annotations

import pytest

from service.governance.usage import RuleRef
from service.governance.usage import rules_by_value_set
from service.pathway.advice import RecommendationId
from service.pathway.rules import RULES
from service.pathway.terminology import ValueSetId


def _direct(vs_id: ValueSetId) -> set[str]:
    return {ref.recommendation for ref in rules_by_value_set()[vs_id.value] if not ref.via}


def test_every_value_set_of_the_pathway_is_reported() -> None:
    assert set(rules_by_value_set()) >= {member.value for member in ValueSetId}


@pytest.mark.parametrize(
    ("vs_id", "recommendation"),
    [
        # A fact the rule reads directly.
        (ValueSetId.RED_FLAGS, RecommendationId.RED_FLAGS),
        (ValueSetId.DIFFERENTIAL_SIH, RecommendationId.DIFFERENTIAL_DIAGNOSIS),
        (ValueSetId.MANIPULATION_CONTRAINDICATIONS, RecommendationId.MANIPULATION_CONTRAINDICATED),
        # Through an order kind named by the rule (OrderKind.OPIOID -> the opioids value set).
        (ValueSetId.OPIOIDS, RecommendationId.MEDICATION_OPIOID),
        (ValueSetId.BOTULINUM_TOXIN, RecommendationId.BOTULINUM_PREGNANCY),
        (ValueSetId.MANIPULATION, RecommendationId.MANIPULATION_CONTRAINDICATED),
        # Through a guard that removes a kind (treatment of opioid use disorder is not an opioid order, C12).
        (ValueSetId.OPIOID_USE_DISORDER, RecommendationId.MEDICATION_OPIOID),
        # Through a kind set of the facts (IMAGING_KINDS) and a kind added under an if (GON block).
        (ValueSetId.NEUROVASCULAR_IMAGING, RecommendationId.IMAGING_RED_FLAG_APPROPRIATE),
        (ValueSetId.GON_BLOCK, RecommendationId.ESCALATION_PREMATURE),
        # Through a Facts field derived from another fact (pregnancy feeds botulinum-pregnancy).
        (ValueSetId.PREGNANCY, RecommendationId.BOTULINUM_PREGNANCY),
        (ValueSetId.GESTATIONAL_AGE, RecommendationId.BOTULINUM_PREGNANCY),
        # Every rule cites the CGH Condition.
        (ValueSetId.CGH_DX_SPECIFIC, RecommendationId.PT_FIRST_LINE),
    ],
)
def test_known_uses_are_found(vs_id: ValueSetId, recommendation: RecommendationId) -> None:
    assert recommendation.value in _direct(vs_id)


@pytest.mark.parametrize(
    ("vs_id", "recommendation"),
    [
        # Order value sets count only through the kinds a rule names: red flags never read opioid orders.
        (ValueSetId.OPIOIDS, RecommendationId.RED_FLAGS),
        (ValueSetId.MANIPULATION, RecommendationId.MEDICATION_OPIOID),
        (ValueSetId.BOTULINUM_TOXIN, RecommendationId.MEDICATION_OPIOID),
        (ValueSetId.DIFFERENTIAL_MIGRAINE, RecommendationId.MANIPULATION_CONTRAINDICATED),
    ],
)
def test_unrelated_rules_are_not_listed(vs_id: ValueSetId, recommendation: RecommendationId) -> None:
    assert recommendation.value not in _direct(vs_id)


def test_the_engine_red_flag_suppression_is_listed_as_such() -> None:
    suppressed = {rule.id.value for rule in RULES if "red-flags" in rule.suppressed_by}
    via_engine = {ref.recommendation for ref in rules_by_value_set()[ValueSetId.RED_FLAGS.value] if ref.via}
    assert suppressed and suppressed <= via_engine | _direct(ValueSetId.RED_FLAGS)
    assert RuleRef("R5", "pt-first-line", "engine").label == "R5 pt-first-line (engine)"


def test_every_rule_uses_some_value_set() -> None:
    used = {ref.recommendation for refs in rules_by_value_set().values() for ref in refs}
    assert used == {rule.id.value for rule in RULES}
