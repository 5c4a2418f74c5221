"""Judging without an optional key (issue 16): no escalation on missing data, and the gap named on the cards."""

from __future__ import annotations

from dataclasses import replace

import pytest

from service.pathway import Moment
from service.pathway import evaluate
from service.pathway.gaps import AFFECTED
from service.pathway.gaps import ESCALATIONS
from tests.unit.pathway.builders import CHIRO_MANIPULATION
from tests.unit.pathway.builders import TODAY
from tests.unit.pathway.builders import adequate_failed_trial
from tests.unit.pathway.builders import by_id
from tests.unit.pathway.builders import cgh
from tests.unit.pathway.builders import record
from tests.unit.pathway.builders import service_request


@pytest.mark.parametrize("key", sorted(AFFECTED))
def test_a_failed_adequate_trial_does_not_escalate_when_any_optional_key_is_missing(key: str) -> None:
    pt, obs = adequate_failed_trial()
    complete = record(cgh(), procedures=pt, observations=obs)
    assert "escalate-occipital-nerve-block" in by_id(evaluate(complete, Moment.RECORD_REVIEW, TODAY))

    advice = by_id(evaluate(replace(complete, unavailable=(key,)), Moment.RECORD_REVIEW, TODAY))

    assert not {rec.value for rec in ESCALATIONS} & set(advice)
    for item in advice.values():
        assert item.data_gaps == ((key,) if item.recommendation in AFFECTED[key] else ())


def test_missing_medications_are_named_on_the_manipulation_card_only() -> None:
    draft = service_request(CHIRO_MANIPULATION, status="draft")
    complete = record(cgh(), drafts=[draft])
    before = by_id(evaluate(complete, Moment.ORDER_SIGN, TODAY))
    assert "manipulation-risk" in before and before["manipulation-risk"].data_gaps == ()

    after = by_id(evaluate(replace(complete, unavailable=("medicationrequests",)), Moment.ORDER_SIGN, TODAY))

    assert set(after) == set(before)
    assert after["manipulation-risk"].data_gaps == ("medicationrequests",)
    assert all(item.data_gaps == () for rec, item in after.items() if rec != "manipulation-risk")
