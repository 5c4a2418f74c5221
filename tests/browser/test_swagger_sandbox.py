"""The sandbox in a real browser: a developer opens ``/docs/``, picks the shipped Bundle and gets its cards.

Headless Chromium driven by Selenium (see ``test_swagger_ui.py``) against the app served by a real HTTP server
with ``CGH_AUTH=off`` and ``CGH_SANDBOX=on``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.config import AuthMode
from service.config import Settings
from tests.browser.conftest import require_browser
from tests.live_app import live_app

pytestmark = pytest.mark.browser

WAIT_S = 60
BUNDLE_EXAMPLE = "s01-new-cgh-no-pt-transaction"
OPERATION = "operations-Sandbox-sandboxEvaluate"


@pytest.fixture(scope="module")
def sandbox_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app with the sandbox on behind a real HTTP server on a free loopback port; yields its base URL."""
    require_browser()
    folder = tmp_path_factory.mktemp("browser-sandbox")
    with live_app(lambda base_url: Settings(auth=AuthMode.OFF, sandbox=True, public_base_url=base_url,
                                            database_url=f"sqlite:///{folder}/t.sqlite3", instance_path=folder),
                  name="swagger-sandbox-server") as (base_url, _):
        yield base_url


def test_swagger_ui_evaluates_the_shipped_bundle(sandbox_server: str, browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.select import Select
    from selenium.webdriver.support.wait import WebDriverWait

    wait = WebDriverWait(browser, WAIT_S)
    browser.get(f"{sandbox_server}/docs/")
    operation = wait.until(lambda d: d.find_element(By.ID, OPERATION))
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", operation)
    operation.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    operation.find_element(By.CSS_SELECTOR, "button.try-out__btn").click()
    service_param = wait.until(
        lambda d: operation.find_element(By.CSS_SELECTOR, "tr[data-param-name='service_id'] select")
    )
    Select(service_param).select_by_value("cgh-patient-view")

    # The request body is the shipped transaction Bundle (urn:uuid references), not a hook request.
    examples = operation.find_elements(By.CSS_SELECTOR, ".opblock-section-request-body select.examples-select-element")
    if examples:
        Select(examples[0]).select_by_value(BUNDLE_EXAMPLE)
    body = wait.until(lambda d: operation.find_element(By.CSS_SELECTOR, "textarea.body-param__text"))
    wait.until(lambda d: "urn:uuid:" in (body.get_attribute("value") or ""))
    assert '"transaction"' in body.get_attribute("value")
    operation.find_element(By.CSS_SELECTOR, "button.execute").click()

    status = wait.until(ec.visibility_of_element_located(
        (By.CSS_SELECTOR, f"#{OPERATION} .live-responses-table tr.response .response-col_status")))
    response_text = operation.find_element(
        By.CSS_SELECTOR, ".live-responses-table tr.response .response-col_description").text
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", status)
    browser.save_screenshot(str(tmp_path / "swagger-ui-sandbox.png"))
    assert status.text.strip() == "200", response_text
    # The S01 fixture's card, from its data sent as a Bundle.
    assert '"cards"' in response_text and "pt-first-line" in response_text
    errors = [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []
