"""Client authentication, CORS and hardening against the real thing: ``cgh-cds serve`` (gunicorn, two gthread
workers, preloaded) with ``CGH_AUTH=required``, a shared SQLite replay cache and a local JWKS server.

The replay test proves the cache is shared: it finds two keep-alive connections served by *different*
worker processes (matching the socket inodes in /proc), uses a token on one and replays it on the other.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import re
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests

from service.scenarios import iter_scenarios
from tests.conftest import FIXTURES_DIR
from tests.conftest import REPO_ROOT
from tests.servers import CLI
from tests.servers import RunningService
from tests.servers import running_service
from tests.unit.security.signing import ISS
from tests.unit.security.signing import NEGATIVE
from tests.unit.security.signing import POSITIVE
from tests.unit.security.signing import Case
from tests.unit.security.signing import JwksServer
from tests.unit.security.signing import World
from tests.unit.security.signing import make_world
from tests.unit.security.signing import mint

SANDBOX_ORIGIN = "https://sandbox.cds-hooks.org"
INVOKE = "/cds-services/cgh-patient-view"
FEEDBACK = "/cds-services/cgh-patient-view/feedback"
FEEDBACK_BODY = {
    "feedback": [
        {
            "card": "0b5c6a3e-0000-4000-8000-000000000000",
            "outcome": "overridden",
            "outcomeTimestamp": "2025-06-01T00:00:00Z",
        }
    ]
}


@dataclass
class Deployment:
    service: RunningService
    world: World

    @property
    def base(self) -> str:
        return self.service.base_url

    def call(self, method: str, path: str, authorization: str | None = None, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        if authorization is not None:
            headers["Authorization"] = authorization
        return requests.request(method, self.base + path, headers=headers, timeout=15, **kwargs)

    def token(self, path: str, **kwargs: Any) -> str:
        return mint(self.world.ec, iss=ISS, aud=self.world.aud(path), **kwargs)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    tmp = tmp_path_factory.mktemp("security-gunicorn")
    with _jwks() as jwks:
        world = make_world("http://placeholder", jwks)
        clients_file = tmp / "trusted-clients.json"
        clients_file.write_text(json.dumps(world.trusted_clients()))
        env = {
            "CGH_AUTH": "required",
            "CGH_TRUSTED_CLIENTS": str(clients_file),
            "CGH_CORS_ORIGINS": SANDBOX_ORIGIN,
            "CGH_ADMIN_TOKEN": "admin-secret",
            "NO_PROXY": "127.0.0.1,localhost",
        }
        with running_service(tmp, env, workers=2) as service:
            world.base = service.base_url
            yield Deployment(service, world)
            log = service.log()
        # Never a JWT in the log, never a stack trace.
        assert "Traceback" not in log
        assert not re.search(r"eyJ[A-Za-z0-9_-]{10,}\.eyJ", log), "a JWT was logged"


class _jwks:  # noqa: N801 - used as a context manager
    def __enter__(self) -> JwksServer:
        self.server = JwksServer().start()
        return self.server

    def __exit__(self, *exc: object) -> None:
        self.server.stop()


# --- the matrix -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", NEGATIVE, ids=lambda c: c.name)
def test_negative_matrix_against_gunicorn(deployment: Deployment, case: Case) -> None:
    response = deployment.call(
        case.method, case.path, case.build(deployment.world, case.path), headers={"Origin": SANDBOX_ORIGIN}
    )
    assert response.status_code == 401
    assert response.json() == {"error": "unauthorized"}
    assert response.headers["Access-Control-Allow-Origin"] == SANDBOX_ORIGIN


@pytest.mark.parametrize("case", POSITIVE, ids=lambda c: c.name)
def test_accepted_tokens_on_discovery(deployment: Deployment, case: Case) -> None:
    response = deployment.call("GET", "/cds-services", case.build(deployment.world, "/cds-services"))
    assert response.status_code == 200
    assert len(response.json()["services"]) == 4


@pytest.mark.parametrize("case", POSITIVE, ids=lambda c: c.name)
def test_accepted_tokens_on_feedback(deployment: Deployment, case: Case) -> None:
    response = deployment.call("POST", FEEDBACK, case.build(deployment.world, FEEDBACK), json=FEEDBACK_BODY)
    assert response.status_code == 200
    assert response.json() == {"stored": 1}


def test_invocation_with_a_valid_token_answers_cards(deployment: Deployment) -> None:
    scenario = next(
        s
        for s in iter_scenarios(FIXTURES_DIR)
        if s.expect.status == 200 and not s.server_resources and s.expect.cards and s.service == "cgh-patient-view"
    ).rolled_to(date.today())
    path = f"/cds-services/{scenario.service}"
    response = deployment.call("POST", path, f"Bearer {deployment.token(path)}", json=scenario.request)
    assert response.status_code == 200
    assert response.json()["cards"]


def test_feedback_token_for_the_invocation_url_is_refused(deployment: Deployment) -> None:
    response = deployment.call("POST", FEEDBACK, f"Bearer {deployment.token(INVOKE)}", json=FEEDBACK_BODY)
    assert response.status_code == 401


def test_jku_not_on_the_allowlist_is_never_requested(deployment: Deployment) -> None:
    case = next(c for c in NEGATIVE if c.name == "jku-not-allowlisted")
    for _ in range(5):
        assert deployment.call("GET", "/cds-services", case.build(deployment.world, "/cds-services")).status_code == 401
    assert deployment.world.jwks.count("/evil/jwks.json") == 0


def test_allowlisted_jku_and_jwks_url_are_fetched_at_most_once_per_worker(deployment: Deployment) -> None:
    for _ in range(10):
        token = deployment.token("/cds-services", header={"jku": deployment.world.allowed_jku, "kid": "rotated"})
        deployment.call("GET", "/cds-services", f"Bearer {token}")  # unknown kid: one refresh, then rate-limited
    assert deployment.world.jwks.count("/ehr/jwks.json") <= 4  # first use + one refresh, per worker
    assert deployment.world.jwks.count("/epic/jwks.json") <= 2


def test_unknown_cds_path_is_401_without_a_token_and_404_with_one(deployment: Deployment) -> None:
    path = "/cds-services/nope/deeper"
    assert deployment.call("GET", path).status_code == 401
    assert deployment.call("GET", path, f"Bearer {deployment.token(path)}").status_code == 404


# --- replay across workers --------------------------------------------------------------------------------


def _worker_pids(master: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                pids.append(int(entry))
    return pids


def _socket_inode(server_port: int, client_port: int) -> str | None:
    local = f"0100007F:{server_port:04X}"
    remote = f"0100007F:{client_port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == local and fields[2] == remote:
            return fields[9]
    return None


def _serving_worker(connection: http.client.HTTPConnection, server_port: int, workers: list[int]) -> int | None:
    assert connection.sock is not None
    inode = _socket_inode(server_port, connection.sock.getsockname()[1])
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in workers:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    return pid
            except OSError:
                continue
    return None


def _get(connection: http.client.HTTPConnection, token: str) -> int:
    connection.request("GET", "/cds-services", headers={"Authorization": f"Bearer {token}"})
    response = connection.getresponse()
    response.read()
    return response.status


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc to see which worker serves")
def test_replayed_jti_is_refused_by_the_other_worker(deployment: Deployment) -> None:
    port = int(deployment.base.rsplit(":", 1)[1])
    workers = _worker_pids(deployment.service.process.pid)
    assert len(workers) == 2, workers
    by_worker: dict[int, http.client.HTTPConnection] = {}
    spare: list[http.client.HTTPConnection] = []
    for _ in range(40):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        # A first authenticated request makes the worker accept the connection; keep-alive pins it there.
        assert _get(connection, deployment.token("/cds-services")) == 200
        pid = _serving_worker(connection, port, workers)
        if pid is not None and pid not in by_worker:
            by_worker[pid] = connection
        else:
            spare.append(connection)
        if len(by_worker) == 2:
            break
    try:
        assert len(by_worker) == 2, "could not reach both workers"
        first, second = (by_worker[pid] for pid in workers)
        for used_on, replayed_on in ((first, second), (second, first)):
            token = deployment.token("/cds-services")
            assert _get(used_on, token) == 200
            assert _get(replayed_on, token) == 401
            assert _get(used_on, token) == 401
    finally:
        for connection in [*by_worker.values(), *spare]:
            connection.close()


def test_same_token_in_a_concurrent_burst_is_accepted_once(deployment: Deployment) -> None:
    token = deployment.token("/cds-services")
    statuses: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(16)

    def fire() -> None:
        barrier.wait()
        status = deployment.call("GET", "/cds-services", f"Bearer {token}").status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=fire) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [401] * 15


# --- CORS, unauthenticated paths, hardening ---------------------------------------------------------------


@pytest.mark.parametrize("path", ["/cds-services", INVOKE, FEEDBACK])
def test_preflight_needs_no_jwt(deployment: Deployment, path: str) -> None:
    response = deployment.call(
        "OPTIONS",
        path,
        headers={
            "Origin": SANDBOX_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == SANDBOX_ORIGIN
    assert response.headers["Access-Control-Allow-Methods"] == "GET, POST, OPTIONS"
    assert response.headers["Access-Control-Allow-Headers"] == "Authorization, Content-Type, Accept"


def test_cors_on_412(deployment: Deployment) -> None:
    scenario = next(s for s in iter_scenarios(FIXTURES_DIR) if s.expect.status == 412 and not s.server_resources)
    path = f"/cds-services/{scenario.service}"
    response = deployment.call(
        "POST", path, f"Bearer {deployment.token(path)}", json=scenario.request, headers={"Origin": SANDBOX_ORIGIN}
    )
    assert response.status_code == 412
    assert response.headers["Access-Control-Allow-Origin"] == SANDBOX_ORIGIN
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/openapi.yaml", "/docs/"])
def test_operational_paths_need_no_token(deployment: Deployment, path: str) -> None:
    response = deployment.call("GET", path)
    assert response.status_code == 200
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_analytics_needs_the_admin_token(deployment: Deployment) -> None:
    assert deployment.call("GET", "/analytics/recommendations").status_code == 401
    assert deployment.call("GET", "/analytics/recommendations", "Bearer admin-secret").status_code == 200


def test_docs_csp_allows_the_swagger_inline_script_by_hash(deployment: Deployment) -> None:
    response = deployment.call("GET", "/docs/")
    csp = response.headers["Content-Security-Policy"]
    scripts = re.findall(r"<script>(.*?)</script>", response.text, re.DOTALL)
    assert scripts, "Swagger UI page has its inline bootstrap script"
    for script in scripts:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp
    script_src = re.search(r"script-src ([^;]+)", csp)
    assert script_src is not None and "unsafe" not in script_src.group(1)
    for asset in re.findall(r'src="([^"]+\.js)"', response.text):
        assert deployment.call("GET", asset if asset.startswith("/") else "/docs/" + asset).status_code == 200


def test_oversized_body_is_413_with_cors(deployment: Deployment) -> None:
    response = deployment.call(
        "POST",
        INVOKE,
        f"Bearer {deployment.token(INVOKE)}",
        data=b"{" + b" " * (6 * 1024 * 1024) + b"}",
        headers={"Content-Type": "application/json", "Origin": SANDBOX_ORIGIN},
    )
    assert response.status_code == 413
    assert response.headers["Access-Control-Allow-Origin"] == SANDBOX_ORIGIN


def test_deeply_nested_json_is_a_client_error(deployment: Deployment) -> None:
    for depth in (200, 900, 5000):
        body = b'{"hook": "patient-view", "context": ' + b"[" * depth + b"]" * depth + b"}"
        response = deployment.call(
            "POST",
            INVOKE,
            f"Bearer {deployment.token(INVOKE)}",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        assert 400 <= response.status_code < 500, (depth, response.status_code)


# --- start-up modes ---------------------------------------------------------------------------------------


def test_auth_off_works_without_tokens_and_warns(tmp_path: Path) -> None:
    with running_service(tmp_path, {"CGH_AUTH": "off"}, workers=2) as service:
        assert requests.get(f"{service.base_url}/cds-services", timeout=10).status_code == 200
        ready = requests.get(f"{service.base_url}/readyz", timeout=10).json()
        assert "CGH_AUTH=off" in ready["warning"]
        assert "CGH_AUTH=off" in service.log()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[{"iss": "x"', "not valid JSON"),
        ('[{"iss": "x", "jwks_url": "http://ehr.example.org/jwks"}]', "must use https"),
        ("[]", "at least one CDS client"),
    ],
)
def test_bad_trusted_clients_file_stops_start_up(tmp_path: Path, content: str, message: str) -> None:
    clients_file = tmp_path / "clients.json"
    clients_file.write_text(content)
    env = {
        "PATH": "/usr/bin:/bin",
        "CGH_AUTH": "required",
        "CGH_TRUSTED_CLIENTS": str(clients_file),
        "CGH_INSTANCE_PATH": str(tmp_path),
        "CGH_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    result = subprocess.run(
        [str(CLI), "serve", "--port", "1"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode != 0
    assert message in result.stderr and "CGH_TRUSTED_CLIENTS" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.browser
def test_swagger_ui_renders_under_the_csp(deployment: Deployment) -> None:
    """A real Chromium loads /docs/ with our CSP: the UI renders and the console has no CSP violation."""
    import shutil

    webdriver = pytest.importorskip("selenium.webdriver")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.skip("needs Chromium and chromedriver")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=driver_path), options=options)
    try:
        driver.set_page_load_timeout(30)
        driver.get(deployment.base + "/docs/")
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions
        from selenium.webdriver.support.ui import WebDriverWait

        title = WebDriverWait(driver, 20).until(
            expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, ".swagger-ui .info .title"))
        )
        assert "Cervicogenic" in title.text
        WebDriverWait(driver, 20).until(
            expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".swagger-ui .opblock"))
        )
        console = [entry["message"] for entry in driver.get_log("browser")]
        assert not [m for m in console if "Content Security Policy" in m or "Refused to" in m], console
    finally:
        driver.quit()
