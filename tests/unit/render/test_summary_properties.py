"""Summaries written to fit (issue 15), checked on every fixture and on generated records.

A summary is under 140 characters as JavaScript counts them, its brackets are balanced, it never ends in an
ellipsis (a value cut at the end of the sentence), and every "…" follows a whole word of the value it
shortened (never mid-word). Generated records take the pathway property tests' random records and give their
conditions and drafted orders long EHR-style names with brackets, commas and semicolons, the texts that used
to be cut mid-bracket ("…(17% reduction in headache frequency (12 to…").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from pathlib import Path
from random import Random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from service.fhir.builder import build_record
from service.fhir.builder import parse_context
from service.fhir.record import PatientRecord
from service.pathway import Moment
from service.pathway import evaluate
from service.render import CardLibrary
from service.render import render_cards
from service.render._text import ELLIPSIS
from service.render._text import balanced
from service.render._text import text_length
from service.scenarios import load_scenario
from service.services import get_service
from tests.unit.pathway.test_pathway_properties import ALL_CODINGS
from tests.unit.pathway.test_pathway_properties import random_record

FIXTURES = sorted((Path(__file__).resolve().parents[3] / "fhir_fixtures").glob("[!_]*/*.json"))
PROPERTY = settings(max_examples=150, deadline=None, database=None)

#: Names as real EHRs send them: CPT descriptors, nested brackets, lists, long product names.
LONG_NAMES = [
    "Magnetic resonance (eg, proton) imaging, spinal canal and contents, cervical; without contrast material",
    "17% reduction in headache frequency (12 to 10 days a month (self-report))",
    "Fioricet (butalbital/acetaminophen/caffeine) 50-300-40 mg capsule",
    "Chemodenervation of muscle(s); neck muscle(s), excluding muscles of the larynx, unilateral (eg, for "
    "cervical dystonia, spasmodic torticollis)",
    "Vertebral artery dissection [history; resolved 2023]",
    "Manipulative treatment, chiropractic; spinal, 3-4 regions (cervical, thoracic)",
]
_WORD_BEFORE_ELLIPSIS = re.compile(r"(\w+)\W*" + ELLIPSIS)


def summary_problems(summary: str, values: Mapping[str, str]) -> list[str]:
    """What is wrong with ``summary`` for the facts it was made from (empty when it is well written)."""
    problems = []
    if text_length(summary) >= 140:
        problems.append(f"{text_length(summary)} characters")
    if summary.rstrip(".").endswith(ELLIPSIS):
        problems.append("ends in an ellipsis inside a clause")
    return problems + cut_problems(summary, values)


def cut_problems(text: str, values: Mapping[str, str]) -> list[str]:
    """Unbalanced brackets, or a "…" after a word that is not a whole word of any value (a mid-word cut)."""
    problems = [] if balanced(text) else ["unbalanced brackets"]
    for word in _WORD_BEFORE_ELLIPSIS.findall(text):
        whole = re.compile(rf"(?<!\w){re.escape(word)}(?!\w)")
        if not any(whole.search(value) for value in values.values()):
            problems.append(f"cut mid-word at {word!r}")
    return problems


def _check(cards: list[dict[str, Any]], advice_facts: Mapping[str, Mapping[str, str]]) -> None:
    for card in cards:
        facts = advice_facts[card["source"]["topic"]["code"]]
        assert summary_problems(card["summary"], facts) == [], card["summary"]


def _render(record: PatientRecord, moment: Moment, today: date, library: CardLibrary) -> None:
    advice = evaluate(record, moment, today)
    cards = render_cards(advice, library, hook_instance="h", service_id="s")
    _check(cards, {item.recommendation.value: item.facts for item in advice})


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_fixture_summary_fits(path: Path, library: CardLibrary) -> None:
    scenario = load_scenario(path)
    context = parse_context(scenario.request["context"])
    sources = [*(scenario.request.get("prefetch") or {}).values(), *scenario.server_resources]
    record = build_record(context, sources)
    _render(record, get_service(scenario.service).moment, scenario.reference_date, library)


def _long_names(rng: Random, record: PatientRecord) -> PatientRecord:
    return replace(
        record,
        conditions=tuple(replace(c, text=rng.choice(LONG_NAMES)) for c in record.conditions),
        draft_orders=tuple(
            replace(order, text=rng.choice(LONG_NAMES)) if hasattr(order, "text") else order
            for order in record.draft_orders
        ),
    )


@PROPERTY
@given(
    rng=st.randoms(),
    moment=st.sampled_from(list(Moment)),
    today=st.dates(min_value=date(2015, 1, 1), max_value=date(2030, 1, 1)),
)
def test_generated_record_summaries_fit(library: CardLibrary, rng: Random, moment: Moment, today: date) -> None:
    _render(_long_names(rng, random_record(rng, ALL_CODINGS)), moment, today, library)


@pytest.mark.parametrize("name", LONG_NAMES)
def test_a_long_name_is_shortened_at_a_word_and_keeps_its_brackets_balanced(name: str) -> None:
    from service.render._text import shorten

    for room in range(20, len(name)):  # every summary placeholder keeps at least 20 (SUMMARY_FIELD_ROOM)
        short = shorten(name, room)
        assert text_length(short) <= room
        assert cut_problems(short, {"value": name}) == [], short
