"""The deployment topology, natively: nginx balancing two `cgh-cds serve` replicas that share one PostgreSQL.

This is what docker-compose.yml runs (scripts/stack starts the same without a Docker engine). With auth
required, every call carries a fresh client JWT; the test checks that both replicas answer, that a token
replayed against the stack is refused whichever replica gets it (the replay cache lives in the shared
database), and that feedback and governance figures are shared across replicas.
"""

from __future__ import annotations

import json
import re
import subprocess
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

from service.scenarios import check_response
from service.scenarios import iter_scenarios
from tests.conftest import FIXTURES_DIR
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.postgres

ISSUER = "https://ehr.stack-test.example.org"
KID = "stack-test-key"
ADMIN_TOKEN = "stack-admin-token"


@pytest.fixture(scope="module")
def signing_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


@pytest.fixture(scope="module")
def running_stack(
    tmp_path_factory: pytest.TempPathFactory, signing_key: ec.EllipticCurvePrivateKey
) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("stack-config")
    public = json.loads(ECAlgorithm.to_jwk(signing_key.public_key()))
    clients = folder / "trusted-clients.json"
    clients.write_text(json.dumps([{"iss": ISSUER, "jwks": {"keys": [{**public, "kid": KID, "use": "sig"}]}}]))
    stack_dir = Path(f"/tmp/cgh-stack-test-{uuid.uuid4().hex[:8]}")
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "CGH_AUTH": "required",
        "CGH_TRUSTED_CLIENTS": str(clients),
        "CGH_ADMIN_TOKEN": ADMIN_TOKEN,
        "CGH_AUDIT_KEY": "stack-test-audit-key",
    }
    started = subprocess.run([str(REPO_ROOT / "scripts" / "stack"), "start", str(stack_dir), "2"], cwd=REPO_ROOT,
                             env=env, capture_output=True, text=True, timeout=600, check=False)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        yield started.stdout.strip().splitlines()[-1], stack_dir
    finally:
        subprocess.run([str(REPO_ROOT / "scripts" / "stack"), "stop", str(stack_dir)], cwd=REPO_ROOT,
                       capture_output=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def stack(running_stack: tuple[str, Path]) -> str:
    return running_stack[0]


def _token(key: ec.EllipticCurvePrivateKey, audience: str) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": audience, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())}
    return jwt.encode(claims, key, algorithm="ES384", headers={"kid": KID, "typ": "JWT"})


def _post(url: str, body: Any, token: str) -> requests.Response:
    if "hookInstance" in body:
        body = {**body, "hookInstance": str(uuid.uuid4())}  # each call a new hook instance, as an EHR sends
    return requests.post(url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_replicas_behind_the_balancer_answer_with_shared_state(
    stack: str, signing_key: ec.EllipticCurvePrivateKey
) -> None:
    assert requests.get(f"{stack}/cds-services", timeout=10).status_code == 401
    discovery = requests.get(f"{stack}/cds-services", timeout=10,
                             headers={"Authorization": f"Bearer {_token(signing_key, stack + '/cds-services')}"})
    assert discovery.status_code == 200 and len(discovery.json()["services"]) == 4

    scenario = next(s for s in iter_scenarios(FIXTURES_DIR) if not s.server_resources and s.expect.status == 200
                    and any(c.recommendation == "pt-first-line" for c in s.expect.cards))
    rolled = scenario.rolled_to(date.today())
    url = f"{stack}/cds-services/{rolled.service}"
    cards = []
    for _ in range(8):
        response = _post(url, rolled.request, _token(signing_key, url))
        assert check_response(rolled, response.status_code, response.json()) == []
        cards.extend(response.json()["cards"])

    # A replayed token is refused whichever replica receives it: the jti cache is the shared database.
    token = _token(signing_key, url)
    statuses = [_post(url, rolled.request, token).status_code for _ in range(4)]
    assert statuses == [200, 401, 401, 401]

    feedback_url = f"{url}/feedback"
    card = cards[0]
    stored = _post(feedback_url, {"feedback": [{"card": card["uuid"], "outcome": "overridden",
                                                "outcomeTimestamp": "2025-06-01T00:00:00Z"}]},
                   _token(signing_key, feedback_url))
    assert stored.status_code == 200
    deadline = time.monotonic() + 10
    while True:  # the audit rows of the other replica are written in batches within a fraction of a second
        figures = requests.get(f"{stack}/analytics/recommendations", timeout=10,
                               headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json()["recommendations"]
        row = next(r for r in figures if r["recommendation"] == card["source"]["topic"]["code"])
        if row["cardsIssued"] >= 9 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert row["cardsIssued"] == 9 and row["overridden"] == 1


def test_both_replicas_served_requests(running_stack: tuple[str, Path]) -> None:
    upstreams = re.findall(r"server (127\.0\.0\.1:\d+);", (running_stack[1] / "nginx.conf").read_text())
    assert len(upstreams) == 2
    for upstream in upstreams:
        metrics = requests.get(f"http://{upstream}/metrics", timeout=10).text
        served = sum(
            float(value) for value in re.findall(
                r'^flask_http_request_total\{[^}]*method="POST"[^}]*\} ([0-9.]+)$', metrics, re.MULTILINE)
        )
        assert served > 0, f"replica {upstream} answered no POST"
