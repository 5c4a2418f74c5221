"""The card gallery's content: every fixture scenario's cards, rendered as the service answers them.

The clinical team reviews card wording in ``/preview/`` before a release. Each scenario of ``fhir_fixtures/``
that the service answers from its prefetch (no FHIR server needed, HTTP 200 expected) is run through the same
steps as a hook call (parse, load the record, the pathway, render) with its dates rolled to ``today``, but
without auditing: gallery views must not appear in the governance figures. Card detail markdown is turned
into HTML here with raw HTML disabled (markdown-it, CommonMark + tables), so the page inserts no markup that
came from card content or chart data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt

from service.errors import CdsServiceError
from service.fhir import load_record
from service.fhir.request import DataRequest
from service.invocation import Runtime
from service.pathway import encounter_is_used
from service.pathway import evaluate
from service.pathway import observation_is_used
from service.protocol import parse_hook_request
from service.render import render_cards
from service.scenarios import Scenario
from service.scenarios import iter_scenarios
from service.services import get_service

__all__ = ["GalleryEntry", "gallery", "markdown_html"]

#: CommonMark without raw HTML (``html: False`` escapes any tag), plus GFM tables; links keep markdown-it's
#: own URL check (no javascript:, vbscript:, file: or non-image data: URLs).
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")


def markdown_html(markdown: str) -> str:
    """``markdown`` as HTML; raw HTML in the source comes out as text."""
    html: str = _MARKDOWN.render(markdown)
    return html


@dataclass(frozen=True, slots=True)
class GalleryEntry:
    """One scenario with the cards the service answers for it."""

    fixture: str
    title: str
    service: str
    hook: str
    expect: dict[str, Any]
    cards: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        return {
            "fixture": self.fixture,
            "title": self.title,
            "service": self.service,
            "hook": self.hook,
            "expect": self.expect,
            "cards": self.cards,
        }


def gallery(fixtures_dir: Path, runtime: Runtime, today: date) -> list[GalleryEntry]:
    """Every answerable scenario under ``fixtures_dir`` with its cards (each with ``detailHtml`` added)."""
    entries = []
    for scenario in iter_scenarios(fixtures_dir) if fixtures_dir.is_dir() else ():
        if scenario.expect.status != 200 or scenario.server_resources:
            continue
        cards = _cards(scenario.rolled_to(today), runtime, today)
        if cards is None:
            continue
        entries.append(
            GalleryEntry(
                fixture=str(scenario.path.relative_to(fixtures_dir).with_suffix("")),
                title=scenario.title,
                service=scenario.service,
                hook=get_service(scenario.service).hook.value,
                expect=_expectation(scenario),
                cards=[{**card, "detailHtml": markdown_html(card.get("detail", ""))} for card in cards],
            )
        )
    return entries


def _cards(scenario: Scenario, runtime: Runtime, today: date) -> list[dict[str, Any]] | None:
    service = get_service(scenario.service)
    try:
        request = parse_hook_request(scenario.request, service.hook)
        record = load_record(
            DataRequest(hook=request.hook.value, context=request.context, prefetch=request.prefetch),
            service.prefetch,
            timeout_s=runtime.settings.fhir_timeout_s,
            session=runtime.http,
            observation_filter=observation_is_used,
            encounter_filter=encounter_is_used,
        )
    except CdsServiceError:
        return None  # a scenario that needs the client's FHIR server: the gallery does not call out
    advice = evaluate(record, service.moment, today, runtime.settings.thresholds)
    return render_cards(advice, runtime.cards, hook_instance=request.hook_instance, service_id=service.id)


def _expectation(scenario: Scenario) -> dict[str, Any]:
    expect = scenario.expect
    return {
        "cards": [{"recommendation": card.recommendation, "indicator": card.indicator} for card in expect.cards],
        "absent": list(expect.absent),
        "exact": expect.exact,
    }
