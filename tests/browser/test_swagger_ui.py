"""Swagger UI in a real browser: a developer with no internet opens ``/docs/``, picks a fixture example and runs it.

Headless Chromium (Debian's ``chromium`` + ``chromium-driver``; ``scripts/install-browser``) driven by
Selenium against the app served by a real HTTP server (werkzeug, in a thread) with ``CGH_AUTH=off``. Every
host name except the loopback address resolves to nothing, as on a machine without internet access, and
the browser's network log must show no request leaving the server's origin.

In CI (``CI=true``) a missing Chromium fails the test; locally it is skipped with the reason.
"""

from __future__ import annotations

import json
import os
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from service.config import AuthMode
from service.config import Settings
from service.scenarios import load_scenario
from tests.browser.conftest import require_browser
from tests.live_app import live_app

pytestmark = pytest.mark.browser

WAIT_S = 60
SERVICE_ID = "cgh-patient-view"
EXAMPLE_FILE = Path(__file__).resolve().parents[2] / "fhir_fixtures/pt-first-line/s01-new-cgh-no-pt-patient-view.json"
EXAMPLE = EXAMPLE_FILE.stem


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app behind a real HTTP server on a free loopback port; yields its base URL."""
    require_browser()
    folder = tmp_path_factory.mktemp("browser")
    with live_app(lambda base_url: Settings(auth=AuthMode.OFF, public_base_url=base_url,
                                            database_url=f"sqlite:///{folder}/t.sqlite3", instance_path=folder),
                  name="swagger-ui-server") as (base_url, _):
        yield base_url


@pytest.fixture
def screenshot_dir(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("CGH_SCREENSHOT_DIR", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _requested_urls(driver: Any) -> list[str]:
    """Every URL the page asked the network for since the last call (Chrome's performance log)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def test_swagger_ui_runs_a_fixture_example_offline(live_server: str, browser: Any, screenshot_dir: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.select import Select
    from selenium.webdriver.support.wait import WebDriverWait

    wait = WebDriverWait(browser, WAIT_S)
    browser.get(f"{live_server}/docs/")

    # The operations of the contract render (the spec, ~1 MB with the examples, was fetched and parsed).
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) >= 10)
    title = browser.find_element(By.CSS_SELECTOR, ".info .title").text
    assert "Cervicogenic headache CDS Hooks service" in title

    # Open "POST /cds-services/cgh-patient-view"; its request body lists that service's fixture examples.
    call = browser.find_element(By.ID, "operations-CDS_Hooks-callPatientView")
    call.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    examples = wait.until(
        lambda d: call.find_elements(By.CSS_SELECTOR, ".opblock-section-request-body select.examples-select-element")
    )
    labels = [option.text for option in Select(examples[0]).options]
    assert sum(label.startswith(f"{SERVICE_ID} · ") for label in labels) >= 5, labels
    assert {label.split(" · ")[0] for label in labels} == {SERVICE_ID}

    # Try it out with the happy-path example for cgh-patient-view, and execute it.
    call.find_element(By.CSS_SELECTOR, "button.try-out__btn").click()
    Select(call.find_element(By.CSS_SELECTOR, "select.examples-select-element")).select_by_value(EXAMPLE)
    body = wait.until(lambda d: call.find_element(By.CSS_SELECTOR, "textarea.body-param__text"))
    hook_instance = load_scenario(EXAMPLE_FILE).request["hookInstance"]
    wait.until(lambda d: hook_instance in (body.get_attribute("value") or ""))
    sent = json.loads(body.get_attribute("value"))
    assert (sent["hook"], sent["hookInstance"]) == ("patient-view", hook_instance)
    call.find_element(By.CSS_SELECTOR, "button.execute").click()

    status = wait.until(
        ec.visibility_of_element_located(
            (
                By.CSS_SELECTOR,
                "#operations-CDS_Hooks-callPatientView .live-responses-table tr.response .response-col_status",
            )
        )
    )
    response_text = call.find_element(
        By.CSS_SELECTOR, ".live-responses-table tr.response .response-col_description"
    ).text
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", status)
    shot = screenshot_dir / "swagger-ui-try-it-out.png"
    browser.save_screenshot(str(shot))
    print(f"screenshot: {shot}")
    assert status.text.strip() == "200", response_text
    assert '"cards"' in response_text and "pt-first-line" in response_text

    # Nothing was fetched from anywhere but this server (no CDN, no validator badge, no fonts).
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(live_server))
    urls = _requested_urls(browser)
    assert any(url.endswith("/openapi.yaml") for url in urls)
    # (chrome:// URLs are the browser's own pages and resources, never the network.)
    on_network = [url for url in urls if urlsplit(url).scheme in {"http", "https", "ws", "wss", "ftp"}]
    assert [url for url in on_network if not url.startswith(origin + "/")] == []
    # ...and the page logged no error (a CSP refusal or a failed fetch would show here).
    errors = [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []


def test_docs_page_references_no_external_url(live_server: str) -> None:
    with urllib.request.urlopen(f"{live_server}/docs/", timeout=10) as response:  # noqa: S310 (loopback)
        page = response.read().decode()
    references = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", page)
    assert references, "the page references no assets at all"
    assert [ref for ref in references if urlsplit(ref).netloc] == []
