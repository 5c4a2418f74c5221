"""JWT verification on the CDS endpoints: the full negative matrix, the accepted variants, replay, logging,
known-answer vectors from the real CDS Hooks Sandbox, and the cost per request once keys are cached."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from service.config import AuthMode
from service.errors import UnauthorizedError
from service.security import TokenRejectedError
from service.security import TokenVerifier
from service.security import load_trusted_clients
from service.security import parse_trusted_clients
from tests.conftest import REALWORLD_DIR
from tests.unit.security.signing import ISS
from tests.unit.security.signing import NEGATIVE
from tests.unit.security.signing import POSITIVE
from tests.unit.security.signing import Case
from tests.unit.security.signing import World
from tests.unit.security.signing import mint

REPO_ROOT = Path(__file__).resolve().parents[3]
SANDBOX_CAPTURED = REALWORLD_DIR / "cds-hooks-examples" / "sandbox-captured"
FEEDBACK = "/cds-services/cgh-patient-view/feedback"
INVOKE = "/cds-services/cgh-patient-view"


def _call(app: Flask, method: str, path: str, authorization: str | None, **kwargs: Any) -> Any:
    headers = {} if authorization is None else {"Authorization": authorization}
    return app.test_client().open(path, method=method, headers=headers, **kwargs)


@pytest.mark.parametrize("case", NEGATIVE, ids=lambda c: c.name)
def test_negative_matrix_is_401_without_detail(app: Flask, world: World, case: Case) -> None:
    response = _call(app, case.method, case.path, case.build(world, case.path))
    assert response.status_code == 401
    assert response.get_json() == {"error": "unauthorized"}
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("case", POSITIVE, ids=lambda c: c.name)
@pytest.mark.parametrize("path", ["/cds-services", INVOKE, FEEDBACK])
def test_accepted_tokens_on_every_cds_endpoint(app: Flask, world: World, case: Case, path: str) -> None:
    method = "GET" if path == "/cds-services" else "POST"
    response = _call(app, method, path, case.build(world, path), json={})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["client"] in {
        ISS,
        "https://epic.example.org/interconnect-fhir/api/FHIR/R4",
        "https://tenanted.example.org",
    }


def test_jku_not_on_allowlist_is_never_fetched(app: Flask, world: World) -> None:
    before = world.jwks.count("/evil/jwks.json")
    case = next(c for c in NEGATIVE if c.name == "jku-not-allowlisted")
    assert _call(app, "GET", "/cds-services", case.build(world, "/cds-services")).status_code == 401
    assert world.jwks.count("/evil/jwks.json") == before == 0


def test_allowlisted_jku_is_fetched_once_and_cached(make_app: Callable[..., Flask], world: World) -> None:
    # A client whose only key source is its jku: first call fetches, later calls use the parsed cache.
    clients = [{"iss": ISS, "jku_allowlist": [world.jwks.url("/ehr/jwks.json?only-jku")]}]
    world.jwks.documents["/ehr/jwks.json?only-jku"] = world.ec.jwks()
    app = make_app(clients=clients)
    for _ in range(5):
        token = mint(world.ec, iss=ISS, aud=world.aud("/cds-services"), header={"jku": clients[0]["jku_allowlist"][0]})
        assert _call(app, "GET", "/cds-services", f"Bearer {token}").status_code == 200
    assert world.jwks.count("/ehr/jwks.json?only-jku") == 1


@pytest.mark.parametrize("kind", ["ec", "rsa"])
@pytest.mark.parametrize("signature", ["", "AAAA", "A" * 700])
def test_signature_of_the_wrong_length_is_refused(app: Flask, world: World, kind: str, signature: str) -> None:
    key = world.ec if kind == "ec" else world.rsa
    iss = ISS if kind == "ec" else "https://epic.example.org/interconnect-fhir/api/FHIR/R4"
    head, body, _ = mint(key, iss=iss, aud=world.aud("/cds-services")).split(".")
    assert _call(app, "GET", "/cds-services", f"Bearer {head}.{body}.{signature}").status_code == 401


def test_feedback_needs_the_feedback_aud(app: Flask, world: World) -> None:
    token = mint(world.ec, iss=ISS, aud=world.aud(INVOKE))
    assert _call(app, "POST", FEEDBACK, f"Bearer {token}", json={}).status_code == 401
    token = mint(world.ec, iss=ISS, aud=world.aud(FEEDBACK))
    assert _call(app, "POST", FEEDBACK, f"Bearer {token}", json={}).status_code == 200


def test_replayed_jti_is_refused(app: Flask, world: World) -> None:
    token = mint(world.ec, iss=ISS, aud=world.aud("/cds-services"))
    assert _call(app, "GET", "/cds-services", f"Bearer {token}").status_code == 200
    assert _call(app, "GET", "/cds-services", f"Bearer {token}").status_code == 401
    # Same jti, fresh signature: still a replay.
    jti = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))["jti"]
    again = mint(world.ec, iss=ISS, aud=world.aud("/cds-services"), jti=jti)
    assert _call(app, "GET", "/cds-services", f"Bearer {again}").status_code == 401


def test_rejected_token_does_not_burn_its_jti(app: Flask, world: World) -> None:
    # A forged token with a victim's jti must not lock the victim out: jti is claimed only after all checks.
    bad = mint(world.impostor, iss=ISS, aud=world.aud("/cds-services"), jti="victim-jti")
    assert _call(app, "GET", "/cds-services", f"Bearer {bad}").status_code == 401
    good = mint(world.ec, iss=ISS, aud=world.aud("/cds-services"), jti="victim-jti")
    assert _call(app, "GET", "/cds-services", f"Bearer {good}").status_code == 200


def test_unknown_cds_path_is_401_before_404(app: Flask, world: World) -> None:
    assert _call(app, "GET", "/cds-services/no/such/thing", None).status_code == 401
    assert _call(app, "PUT", "/cds-services", None).status_code == 401
    path = "/cds-services/no/such/thing"
    assert _call(app, "GET", path, f"Bearer {mint(world.ec, iss=ISS, aud=world.aud(path))}").status_code == 404


def test_unauthenticated_paths_need_no_token(app: Flask) -> None:
    assert _call(app, "GET", "/healthz", None).status_code == 200
    assert _call(app, "OPTIONS", "/cds-services", None).status_code == 204


def test_auth_off_lets_requests_through_without_a_token(auth_off_app: Flask) -> None:
    response = _call(auth_off_app, "GET", "/cds-services", None)
    assert response.status_code == 200
    assert response.get_json()["client"] is None


def test_auth_off_warns_loudly(make_app: Callable[..., Flask], security_log: pytest.LogCaptureFixture) -> None:
    make_app(auth=AuthMode.OFF)
    assert any("CGH_AUTH=off" in r.getMessage() and r.levelname == "WARNING" for r in security_log.records)


def test_log_names_iss_kid_jti_and_reason_never_the_token(
    app: Flask, world: World, security_log: pytest.LogCaptureFixture
) -> None:
    token = mint(world.impostor, iss=ISS, aud=world.aud("/cds-services"), jti="jti-123")
    assert _call(app, "GET", "/cds-services", f"Bearer {token}").status_code == 401
    record = next(r for r in security_log.records if r.getMessage().startswith("JWT rejected"))
    assert (record.iss, record.kid, record.jti, record.reason) == (ISS, "ehr-key-1", "jti-123", "bad signature")
    for r in security_log.records:
        assert token not in r.getMessage() and token.split(".")[2] not in str(r.__dict__)


# --- the verifier on its own ------------------------------------------------------------------------------


class _MemoryReplay:
    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], datetime] = {}

    def claim_jti(self, iss: str, jti: str, expires_at: datetime) -> bool:
        if (iss, jti) in self.seen:
            return False
        self.seen[(iss, jti)] = expires_at
        return True


def _sandbox_captures() -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(SANDBOX_CAPTURED.glob("*.json"))]


def test_known_answer_real_sandbox_tokens_verify_with_the_sample_file() -> None:
    """Tokens the real CDS Hooks Sandbox sent verify against config/trusted-clients.sandbox.json."""
    clients = load_trusted_clients(REPO_ROOT / "config" / "trusted-clients.sandbox.json")
    captures = _sandbox_captures()
    assert len(captures) >= 5
    for capture in captures:
        payload = capture["jwt_payload_decoded"]
        base = payload["aud"].removesuffix(capture["path"])
        issued_at = float(payload["iat"])
        verifier = TokenVerifier(clients, public_base_url=base, replay=_MemoryReplay(), clock=lambda t=issued_at: t)
        client = verifier.verify(capture["headers"]["Authorization"], capture["path"])
        assert (client.iss, client.jti) == ("https://sandbox.cds-hooks.org", payload["jti"])
        assert client.tenant is None


def test_known_answer_sandbox_token_tampered_or_late_is_refused() -> None:
    clients = load_trusted_clients(REPO_ROOT / "config" / "trusted-clients.sandbox.json")
    capture = _sandbox_captures()[0]
    payload = capture["jwt_payload_decoded"]
    base = payload["aud"].removesuffix(capture["path"])
    header = capture["headers"]["Authorization"]
    late = TokenVerifier(clients, public_base_url=base, replay=_MemoryReplay(), clock=lambda: payload["exp"] + 61)
    with pytest.raises(TokenRejectedError, match="expired"):
        late.verify(header, capture["path"])
    head, body, sig = header.removeprefix("Bearer ").split(".")
    flipped = sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:]
    on_time = TokenVerifier(clients, public_base_url=base, replay=_MemoryReplay(), clock=lambda: payload["iat"])
    with pytest.raises(TokenRejectedError, match="bad signature"):
        on_time.verify(f"Bearer {head}.{body}.{flipped}", capture["path"])


def test_spec_example_header_and_payload_pass_the_claim_checks() -> None:
    """The CDS Hooks 2.0 spec's JWT example (header, payload, JWKS: realworld spec-25/26/27) is accepted by our
    rules when signed: ES384, typ JWT, kid in the JWKS, jku allowlisted, tenant listed, aud = that URL."""
    from tests.unit.security.signing import new_ec_key

    examples = REALWORLD_DIR / "cds-hooks-examples"
    header = json.loads((examples / "spec-25-json-web-token-header.json").read_text())
    payload = json.loads((examples / "spec-26-json-web-token-payload.json").read_text())
    jwks = json.loads((examples / "spec-27-json-web-key-set-public-key.json").read_text())
    # The spec's JWKS parses as a trusted key set (EC P-384, ES384, kid example-kid).
    spec_clients = parse_trusted_clients([{"iss": payload["iss"], "jwks": jwks}])
    assert spec_clients[payload["iss"]].keys[header["kid"]].alg == header["alg"] == "ES384"
    # Its private key is not in the repo: sign the same header and payload with our own key under that kid.
    key = new_ec_key(header["kid"])
    clients = parse_trusted_clients(
        [{"iss": payload["iss"], "jwks": key.jwks(), "jku_allowlist": [header["jku"]], "tenants": [payload["tenant"]]}]
    )
    aud = payload["aud"]
    verifier = TokenVerifier(
        clients,
        public_base_url="https://cds.example.org",
        replay=_MemoryReplay(),
        clock=lambda: payload["iat"] + 1,
        max_lifetime_s=float("inf"),
    )
    token = mint(
        key,
        iss=payload["iss"],
        aud=aud,
        header={"jku": header["jku"]},
        claims={k: payload[k] for k in ("exp", "iat", "jti", "tenant")},
    )
    client = verifier.verify(f"Bearer {token}", "/cds-services/some-service")
    assert client.tenant == payload["tenant"]
    assert isinstance(TokenRejectedError("x"), UnauthorizedError)


def test_expires_at_passed_to_the_replay_cache_covers_exp_plus_leeway(world: World) -> None:
    replay = _MemoryReplay()
    clients = parse_trusted_clients([{"iss": ISS, "jwks": world.ec.jwks()}])
    verifier = TokenVerifier(clients, public_base_url="https://cds.example.org", replay=replay)
    now = time.time()
    token = mint(world.ec, iss=ISS, aud="https://cds.example.org/cds-services", now=now, jti="j1")
    verifier.verify(f"Bearer {token}", "/cds-services")
    assert replay.seen[(ISS, "j1")] == datetime.fromtimestamp(int(now + 300) + 60, UTC)


def test_remote_key_set_fetch_is_skipped_when_the_kid_is_inline(world: World) -> None:
    clients = parse_trusted_clients(
        [{"iss": ISS, "jwks": world.ec.jwks(), "jwks_url": world.jwks.url("/never-fetched.json")}]
    )
    verifier = TokenVerifier(clients, public_base_url="https://cds.example.org", replay=_MemoryReplay())
    verifier.verify(f"Bearer {mint(world.ec, iss=ISS, aud='https://cds.example.org/cds-services')}", "/cds-services")
    assert world.jwks.count("/never-fetched.json") == 0
