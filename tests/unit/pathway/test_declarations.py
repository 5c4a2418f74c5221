"""The declarations beside the rules: the registry, the derived ids and the generated catalogue (issue 12)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from service.errors import ContentError
from service.pathway import RecommendationId
from service.pathway.catalogue import catalogue_markdown
from service.pathway.rules import RULES
from service.pathway.rules import _checked

BY_ID = {rule.id.value: rule for rule in RULES}


def test_catalogue_lists_every_recommendation_once_in_evaluation_order() -> None:
    lines = catalogue_markdown().splitlines()
    rows = [line.split("|")[1].strip().strip("`") for line in lines if line.startswith("| `")]
    assert rows == [rule.id.value for rule in RULES]


def test_ids_are_derived_from_the_rule_modules() -> None:
    assert {rule.id for rule in RULES} == set(RecommendationId)
    assert RecommendationId("pt-first-line") is BY_ID["pt-first-line"].id
    with pytest.raises(ValueError):
        RecommendationId("no-such-recommendation")


def test_each_rule_module_declares_its_own_id() -> None:
    for rule in RULES:
        assert rule.judge.__module__ == f"service.pathway.rules.{rule.id.value.replace('-', '_')}"


def test_duplicate_order_is_rejected() -> None:
    clash = dataclasses.replace(BY_ID["manipulation-risk"], order=BY_ID["red-flags"].order)
    with pytest.raises(ContentError, match="share order"):
        _checked([BY_ID["red-flags"], clash])


def test_suppressor_without_a_condition_is_rejected() -> None:
    wrong = dataclasses.replace(BY_ID["manipulation-risk"], suppressed_by=(BY_ID["medication-opioid"].id,))
    with pytest.raises(ContentError, match="declares no suppresses_when"):
        _checked([BY_ID["medication-opioid"], wrong])


def test_unknown_data_key_is_rejected() -> None:
    wrong = dataclasses.replace(BY_ID["manipulation-risk"], data_keys=frozenset({"allergies"}))
    with pytest.raises(ContentError, match="unknown prefetch key"):
        _checked([wrong])


def test_the_catalogue_command_prints_or_writes_the_generated_catalogue(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from service.cli import main

    assert main(["catalogue"]) == 0
    assert capsys.readouterr().out == catalogue_markdown()
    target = tmp_path / "CATALOGUE.md"
    assert main(["catalogue", "--output", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == catalogue_markdown()
