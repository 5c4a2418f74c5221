"""The card gallery (``/preview/``) in a real browser: every fixture's cards render, markdown stays markdown.

The service runs with auth required, so the page needs the admin token as ``/analytics/`` does. The gallery
reads every scenario of ``fhir_fixtures/`` plus one hostile scenario whose diagnosis text is HTML and a
``javascript:`` link: Chromium must render every card of every scenario with no console error, and no card
detail may contain an element that markdown without raw HTML cannot produce.

Screenshots of three recommendations go to ``CGH_SCREENSHOT_DIR`` when it is set (for review notes).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from service.config import AuthMode
from service.config import Settings
from service.web import preview
from tests.browser.conftest import WAIT_S
from tests.browser.conftest import require_browser
from tests.browser.conftest import submit_admin_token
from tests.conftest import FIXTURES_DIR
from tests.live_app import live_app

pytestmark = pytest.mark.browser

ADMIN_TOKEN = "gallery-admin-token"
HOSTILE = (
    "<img src=x onerror=\"document.body.dataset.pwned='img'\">"
    "<script>document.body.dataset.pwned='script'</script> **bold** [click](javascript:alert(1))"
)
#: What CommonMark without raw HTML can produce in a card detail (GFM tables included).
MARKDOWN_TAGS = {
    "P", "UL", "OL", "LI", "STRONG", "EM", "A", "CODE", "BR", "HR", "PRE", "BLOCKQUOTE",
    "TABLE", "THEAD", "TBODY", "TR", "TH", "TD", "H1", "H2", "H3", "H4", "H5", "H6",
}
REVIEWED = ("pt-first-line", "imaging-not-indicated", "manipulation-contraindicated")


def _hostile_fixture(folder: Path) -> None:
    source = FIXTURES_DIR / "pt-first-line" / "s01-new-cgh-no-pt-patient-view.json"
    scenario = json.loads(source.read_text())
    hostile = copy.deepcopy(scenario)
    hostile["title"] = "Hostile EHR text in the diagnosis (patient-view)"
    for entry in hostile["request"]["prefetch"]["conditions"]["entry"]:
        entry["resource"]["code"]["text"] = HOSTILE
        for coding in entry["resource"]["code"].get("coding", []):
            coding["display"] = HOSTILE
    (folder / "zz-hostile").mkdir()
    (folder / "zz-hostile" / "hostile-diagnosis-text-patient-view.json").write_text(json.dumps(hostile))


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_browser()
    folder = tmp_path_factory.mktemp("gallery")
    fixtures = folder / "fhir_fixtures"
    shutil.copytree(FIXTURES_DIR, fixtures)
    _hostile_fixture(fixtures)
    key = ec.generate_private_key(ec.SECP384R1())
    public = json.loads(ECAlgorithm.to_jwk(key.public_key()))
    clients = folder / "trusted-clients.json"
    clients.write_text(json.dumps([{"iss": "https://ehr.example.org", "jwks": {"keys": [{**public, "kid": "k"}]}}]))
    original = preview.FIXTURES_DIR
    preview.FIXTURES_DIR = fixtures
    try:
        with live_app(lambda base_url: Settings(
            auth=AuthMode.REQUIRED, trusted_clients_path=clients, public_base_url=base_url, admin_token=ADMIN_TOKEN,
            database_url=f"sqlite:///{folder}/t.sqlite3", instance_path=folder,
        ), name="gallery-server") as (base_url, _):
            yield base_url
    finally:
        preview.FIXTURES_DIR = original


def _open_with_token(browser: Any, base_url: str) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{base_url}/preview/")
    wait = WebDriverWait(browser, WAIT_S)
    wait.until(expected_conditions.visibility_of_element_located((By.ID, "token")))
    submit_admin_token(browser, "not-the-token")
    wait.until(expected_conditions.text_to_be_present_in_element((By.ID, "status"), "refused"))
    assert browser.find_elements(By.CSS_SELECTOR, ".card") == []
    submit_admin_token(browser, ADMIN_TOKEN)
    wait.until(lambda driver: driver.execute_script("return document.body.dataset.ready") == "true")
    return wait


def test_the_cards_need_the_admin_token(live_server: str) -> None:
    assert requests.get(f"{live_server}/preview/cards", timeout=30).status_code == 401
    wrong = requests.get(f"{live_server}/preview/cards", headers={"Authorization": "Bearer nope"}, timeout=30)
    assert wrong.status_code == 401
    page = requests.get(f"{live_server}/preview/", timeout=30)
    assert page.status_code == 200
    assert "script-src 'self';" in page.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in page.headers["Content-Security-Policy"]


def test_every_fixture_renders_its_cards_without_raw_html_or_console_errors(
    live_server: str, browser: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    data = requests.get(
        f"{live_server}/preview/cards", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=60
    ).json()
    scenarios = data["scenarios"]
    answerable = sum(1 for path in FIXTURES_DIR.glob("[!_]*/*.json") if "serverResources" not in path.read_text())
    assert len(scenarios) >= answerable - 5  # every scenario answered from its prefetch, plus the hostile one
    assert any(s["fixture"].startswith("zz-hostile") for s in scenarios)

    _open_with_token(browser, live_server)
    sections = browser.find_elements(By.CSS_SELECTOR, "section.scenario")
    assert len(sections) == len(scenarios)
    rendered = browser.find_elements(By.CSS_SELECTOR, "article.card")
    assert len(rendered) == sum(len(s["cards"]) for s in scenarios)
    for section, scenario in zip(sections, scenarios, strict=True):
        assert section.find_element(By.TAG_NAME, "h2").text == scenario["title"]
        summaries = [p.text for p in section.find_elements(By.CSS_SELECTOR, ".card .summary")]
        assert len(summaries) == len(scenario["cards"])
        for shown, card in zip(summaries, scenario["cards"], strict=True):
            assert card["summary"] in shown
            assert card["indicator"] in shown.lower()

    # No element in any detail that markdown without raw HTML cannot make; the hostile text is shown as text.
    tags = set(browser.execute_script(
        "return [...document.querySelectorAll('.detail *')].map((node) => node.tagName);"
    ))
    assert tags <= MARKDOWN_TAGS, tags - MARKDOWN_TAGS
    hrefs = browser.execute_script("return [...document.querySelectorAll('.detail a')].map((a) => a.href);")
    assert all(href.startswith(("https://", "http://")) for href in hrefs), hrefs
    assert browser.execute_script("return document.body.dataset.pwned || null") is None
    hostile = [d.text for d in browser.find_elements(By.CSS_SELECTOR, ".detail") if "<img" in d.text]
    assert hostile and "<script>" in hostile[0]

    # Filters: one recommendation shows only scenarios with that card, and only that card.
    screenshots = Path(os.environ.get("CGH_SCREENSHOT_DIR") or tmp_path)
    screenshots.mkdir(parents=True, exist_ok=True)
    for recommendation in REVIEWED:
        Select(browser.find_element(By.ID, "filter-recommendation")).select_by_value(recommendation)
        visible = [s for s in browser.find_elements(By.CSS_SELECTOR, "section.scenario") if s.is_displayed()]
        expected = [s for s in scenarios if any(c["source"]["topic"]["code"] == recommendation for c in s["cards"])]
        assert len(visible) == len(expected) > 0
        cards = [c for c in browser.find_elements(By.CSS_SELECTOR, "article.card") if c.is_displayed()]
        assert {c.get_attribute("data-recommendation") for c in cards} == {recommendation}
        browser.save_screenshot(str(screenshots / f"gallery-{recommendation}.png"))
    Select(browser.find_element(By.ID, "filter-recommendation")).select_by_value("")
    Select(browser.find_element(By.ID, "filter-hook")).select_by_value("order-sign")
    visible = [s for s in browser.find_elements(By.CSS_SELECTOR, "section.scenario") if s.is_displayed()]
    assert len(visible) == sum(1 for s in scenarios if s["hook"] == "order-sign") > 0

    errors = [entry for entry in browser.get_log("browser")
              if entry["level"] == "SEVERE" and "401" not in entry["message"]]
    assert errors == []
