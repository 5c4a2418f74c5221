"""The trend charts in a real browser, on seeded figures: per recommendation and content version, cards per day
(shown and silent), override rate per week, top override reasons and suggestion acceptance; the date range
narrows them; the page's strict CSP holds (no console errors) and nothing is fetched from elsewhere.

The audit and feedback are seeded through the store (two content versions of one recommendation, over two
weeks, some cards silent), so every figure on the page is known in advance.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from service.config import AuthMode
from service.config import Settings
from service.invocation import Runtime
from service.pathway.advice import RecommendationId
from service.store.repository import FeedbackRecord
from service.store.repository import InvocationRecord
from service.store.repository import IssuedCard
from tests.browser.conftest import WAIT_S
from tests.browser.conftest import require_browser
from tests.live_app import live_app

pytestmark = pytest.mark.browser

REC = "pt-first-line"
OLD_VERSION = "0.9.0"
TODAY = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
EARLY = TODAY - timedelta(days=10)
RECENT = TODAY - timedelta(days=2)


def _card(name: str, version: str, mode: str, suggestion_key: str) -> IssuedCard:
    return IssuedCard(f"card-{name}", REC, "info", version=version, mode=mode,
                      suggestions=[(f"suggestion-{name}", suggestion_key)])


def _seed(runtime: Runtime) -> dict[str, Any]:
    content = runtime.cards.card(RecommendationId(REC))
    suggestion_key = next(iter(content.suggestions))
    reason_code, reason_display = content.override_reasons[0]
    current = content.version
    plan = [
        ("old-1", OLD_VERSION, "active", EARLY), ("old-2", OLD_VERSION, "active", EARLY),
        ("new-1", current, "active", RECENT), ("new-2", current, "active", RECENT),
        ("new-3", current, "active", RECENT),
        ("silent-1", current, "silent", TODAY), ("silent-2", current, "silent", TODAY),
    ]
    runtime.store.record_invocations([
        InvocationRecord(hook_instance=f"hook-{name}", service_id="cgh-patient-view", hook="patient-view",
                         patient_id=f"patient-{name}", client_iss=None, received_at=at, duration_ms=5.0,
                         cards=[_card(name, version, mode, suggestion_key)])
        for name, version, mode, at in plan
    ])
    moment = TODAY
    runtime.store.record_feedback("cgh-patient-view", [
        FeedbackRecord("card-old-1", "overridden", [], "s", reason_code, None, moment),
        FeedbackRecord("card-new-1", "accepted", ["suggestion-new-1"], None, None, None, moment),
        FeedbackRecord("card-new-2", "overridden", [], "s", reason_code, None, moment),
        FeedbackRecord("card-new-2", "overridden", [], "s", reason_code, None, moment),  # repeat: one card
    ], client_iss=None, store_comments=False)
    return {"current": current, "reason": reason_display, "suggestion": content.suggestions[suggestion_key].label}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Any]]]:
    require_browser()
    folder = tmp_path_factory.mktemp("trends")
    governance = folder / "governance.yaml"
    governance.write_text(f"recommendations:\n  {REC}: silent\n")
    with live_app(lambda base_url: Settings(auth=AuthMode.OFF, public_base_url=base_url, governance_path=governance,
                                            database_url=f"sqlite:///{folder}/t.sqlite3", instance_path=folder),
                  name="trends-server") as (base_url, app):
        yield base_url, _seed(app.extensions["cgh_runtime"])


def _chart(browser: Any, canvas_id: str) -> dict[str, Any]:
    """The labels and datasets Chart.js is drawing on ``canvas_id``."""
    data: dict[str, Any] = browser.execute_script(
        "const chart = Chart.getChart(arguments[0]);"
        "return chart ? {labels: chart.data.labels, datasets: chart.data.datasets.map("
        "d => ({label: d.label, data: d.data}))} : null;", canvas_id)
    return data


def _series(data: dict[str, Any], label: str) -> list[Any]:
    return next(d["data"] for d in data["datasets"] if d["label"] == label)


def test_trend_charts_show_the_seeded_figures_per_version(seeded: tuple[str, dict[str, Any]], browser: Any,
                                                          tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.select import Select
    from selenium.webdriver.support.ui import WebDriverWait

    base_url, expected = seeded
    wait = WebDriverWait(browser, WAIT_S)
    browser.get_log("browser")  # start from a clean console
    browser.get(f"{base_url}/analytics/")
    wait.until(lambda d: d.find_element(By.ID, "trends").is_displayed())
    assert browser.find_element(By.ID, "range-to").get_attribute("value") == TODAY.date().isoformat()

    select = Select(browser.find_element(By.ID, "series"))
    values = [option.get_attribute("value") for option in select.options]
    assert f"{REC}@{OLD_VERSION}" in values and f"{REC}@{expected['current']}" in values
    select.select_by_value(f"{REC}@{expected['current']}")
    wait.until(lambda d: REC in d.find_element(By.ID, "series-totals").text)

    daily = _chart(browser, "chart-daily")
    assert sum(_series(daily, "shown")) == 3 and sum(_series(daily, "silent")) == 2
    by_day = dict(zip(daily["labels"], _series(daily, "shown"), strict=True))
    assert by_day[RECENT.date().isoformat()] == 3
    assert dict(zip(daily["labels"], _series(daily, "silent"), strict=True))[TODAY.date().isoformat()] == 2
    weekly = _chart(browser, "chart-weekly")
    assert [rate for rate in _series(weekly, "override rate (%)") if rate is not None] == [50]
    reasons = _chart(browser, "chart-reasons")
    assert reasons["labels"] == [expected["reason"]] and _series(reasons, "overrides") == [1]
    suggestions = _chart(browser, "chart-suggestions")
    assert suggestions["labels"] == [expected["suggestion"]]
    assert (_series(suggestions, "offered"), _series(suggestions, "accepted")) == ([3], [1])
    mode_cell = browser.find_element(By.CSS_SELECTOR, f'tr[data-recommendation="{REC}"] td.mode')
    assert mode_cell.text == "silent"
    changes = browser.find_element(By.ID, "mode-changes").text
    assert REC in changes and "silent" in changes
    browser.save_screenshot(str(tmp_path / "analytics-trends.png"))

    select.select_by_value(f"{REC}@{OLD_VERSION}")
    wait.until(lambda d: OLD_VERSION in d.find_element(By.ID, "series-totals").text)
    assert sum(_series(_chart(browser, "chart-daily"), "shown")) == 2
    assert [r for r in _series(_chart(browser, "chart-weekly"), "override rate (%)") if r is not None] == [100]

    # A range that starts after the old version's cards drops that version from the choice.
    since = (RECENT - timedelta(days=1)).date().isoformat()
    browser.execute_script("document.getElementById('range-from').value = arguments[0];", since)
    browser.find_element(By.CSS_SELECTOR, "#range-form button[type=submit]").click()
    wait.until(lambda d: d.find_element(By.ID, "range-from").get_attribute("value") == since
               and f"{REC}@{OLD_VERSION}" not in [o.get_attribute("value") for o in Select(
                   d.find_element(By.ID, "series")).options])
    assert len(_chart(browser, "chart-daily")["labels"]) == 4

    errors = [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(base_url))
    requested = [json.loads(entry["message"])["message"]["params"]["request"]["url"]
                 for entry in browser.get_log("performance")
                 if json.loads(entry["message"])["message"]["method"] == "Network.requestWillBeSent"]
    assert any(url.endswith("/vendor/chartjs/chart.umd.min.js") for url in requested)
    assert [url for url in requested if url.startswith("http") and not url.startswith(origin + "/")] == []


def test_the_page_keeps_its_strict_csp_and_the_csv_matches_the_charts(seeded: tuple[str, dict[str, Any]]) -> None:
    base_url, expected = seeded
    page = requests.get(f"{base_url}/analytics/", timeout=10)
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "style-src 'self';" in csp and "unsafe" not in csp
    exported = requests.get(f"{base_url}/analytics/recommendations.csv", timeout=10)
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    current = [r for r in rows if r["recommendation"] == REC and r["version"] == expected["current"]]
    assert sum(int(r["value"]) for r in current if r["figure"] == "cards_shown") == 3
    assert sum(int(r["value"]) for r in current if r["figure"] == "cards_silent") == 2
    assert [r["value"] for r in current if r["figure"] == "override_rate" and r["value"]] == ["0.5"]
