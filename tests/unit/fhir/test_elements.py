"""``codeable_concept`` refuses shapes the models would coerce but the builder cannot read."""

from __future__ import annotations

import json
from typing import Any

import pytest

from service.fhir.coding import ICD10CM
from service.fhir.elements import InvalidElementError
from service.fhir.elements import codeable_concept

CODING = {"system": ICD10CM, "code": "M54.2", "display": "Cervicalgia"}


def test_a_valid_concept_gives_normalised_codings_and_text() -> None:
    codings, text = codeable_concept({"coding": [CODING, {}], "text": " Neck pain "}, "Condition.code")
    assert [(c.system, c.code) for c in codings] == [(ICD10CM, "M542")]
    assert text == "Neck pain"


@pytest.mark.parametrize(
    "value",
    [
        {"coding": [json.dumps(CODING)]},  # a JSON string where a Coding object belongs
        {"coding": CODING},  # a lone object where an array belongs
        {"coding": "M54.2"},
        {"coding": [["M54.2"]]},
        "M54.2",
    ],
)
def test_coerced_shapes_are_invalid_not_a_crash(value: Any) -> None:
    with pytest.raises(InvalidElementError):
        codeable_concept(value, "Condition.code")
