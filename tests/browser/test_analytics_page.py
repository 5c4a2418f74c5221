"""The governance page in a real browser: with auth required, the admin types the token and sees the figures.

Cards are issued and feedback is sent over HTTP with real client JWTs, then ``/analytics/`` is opened in headless
Chromium: a wrong token is refused, the right one fills the table with the override rate and reasons.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from service.config import AuthMode
from service.config import Settings
from service.scenarios import iter_scenarios
from tests.browser.conftest import WAIT_S
from tests.browser.conftest import require_browser
from tests.browser.conftest import submit_admin_token
from tests.conftest import FIXTURES_DIR
from tests.live_app import live_app

pytestmark = pytest.mark.browser

ISSUER = "https://ehr.example.org"
KID = "governance-test-key"
ADMIN_TOKEN = "governance-admin-token"


@pytest.fixture(scope="module")
def signing_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory, signing_key: ec.EllipticCurvePrivateKey) -> Iterator[str]:
    require_browser()
    folder = tmp_path_factory.mktemp("analytics")
    public = json.loads(ECAlgorithm.to_jwk(signing_key.public_key()))
    clients = folder / "trusted-clients.json"
    clients.write_text(json.dumps([{"iss": ISSUER, "jwks": {"keys": [{**public, "kid": KID, "use": "sig"}]}}]))
    with live_app(lambda base_url: Settings(
        auth=AuthMode.REQUIRED, trusted_clients_path=clients, public_base_url=base_url, admin_token=ADMIN_TOKEN,
        database_url=f"sqlite:///{folder}/t.sqlite3", instance_path=folder,
    ), name="analytics-server") as (base_url, _):
        yield base_url


def _post(base_url: str, path: str, body: Any, key: ec.EllipticCurvePrivateKey) -> requests.Response:
    now = int(time.time())
    token = jwt.encode(
        {"iss": ISSUER, "aud": base_url + path, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())},
        key, algorithm="ES384", headers={"kid": KID, "typ": "JWT"},
    )
    return requests.post(base_url + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_admin_sees_override_rates_after_typing_the_token(
    live_server: str, browser: Any, signing_key: ec.EllipticCurvePrivateKey, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    scenario = next(s for s in iter_scenarios(FIXTURES_DIR) if not s.server_resources and s.expect.status == 200
                    and any(c.recommendation == "pt-first-line" for c in s.expect.cards))
    rolled = scenario.rolled_to(date.today())
    answer = _post(live_server, f"/cds-services/{rolled.service}", rolled.request, signing_key)
    assert answer.status_code == 200, answer.text
    card = next(c for c in answer.json()["cards"] if c["source"]["topic"]["code"] == "pt-first-line")
    reason = card["overrideReasons"][0]
    feedback = {"feedback": [{"card": card["uuid"], "outcome": "overridden",
                              "overrideReason": {"reason": {"system": reason["system"], "code": reason["code"]}},
                              "outcomeTimestamp": "2025-06-01T10:00:00Z"}]}
    assert _post(live_server, f"/cds-services/{rolled.service}/feedback", feedback, signing_key).status_code == 200

    browser.get(f"{live_server}/analytics/")
    wait = WebDriverWait(browser, WAIT_S)
    wait.until(expected_conditions.visibility_of_element_located((By.ID, "token")))
    submit_admin_token(browser, "not-the-token")
    wait.until(expected_conditions.text_to_be_present_in_element((By.ID, "status"), "not accepted"))
    assert not browser.find_element(By.ID, "figures").is_displayed()

    submit_admin_token(browser, ADMIN_TOKEN)
    row = wait.until(expected_conditions.visibility_of_element_located(
        (By.CSS_SELECTOR, 'tr[data-recommendation="pt-first-line"]')))
    cells = [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
    assert cells[2:6] == ["1", "0", "1", "100.0 %"], cells
    assert reason["display"] in cells[6]
    browser.save_screenshot(str(tmp_path / "analytics.png"))
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"
              and "401" not in entry["message"]]
    assert errors == []


def test_admin_downloads_the_terminology_report_with_the_token(live_server: str, browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{live_server}/analytics/")
    wait = WebDriverWait(browser, WAIT_S)
    # Record what the page hands the browser to save (the blob's text); the download itself goes on as usual.
    browser.execute_script(
        "window.savedReports = [];"
        "const original = URL.createObjectURL;"
        "URL.createObjectURL = function (blob) { blob.text().then((t) => window.savedReports.push(t));"
        " return original.call(URL, blob); };"
    )
    markdown_link = wait.until(expected_conditions.element_to_be_clickable((By.LINK_TEXT, "Markdown")))
    markdown_link.click()
    wait.until(expected_conditions.text_to_be_present_in_element((By.ID, "status"), "Enter the admin token"))
    assert browser.execute_script("return window.savedReports.length") == 0

    submit_admin_token(browser, ADMIN_TOKEN)
    wait.until(expected_conditions.text_to_be_present_in_element((By.ID, "status"), "Updated"))
    markdown_link.click()
    browser.find_element(By.LINK_TEXT, "CSV").click()
    wait.until(lambda driver: driver.execute_script("return window.savedReports.length") == 2)
    saved = sorted(browser.execute_script("return window.savedReports"))
    assert saved[0].startswith("# Terminology review") and saved[1].startswith("value_set,system,")
    assert "token" not in browser.current_url
