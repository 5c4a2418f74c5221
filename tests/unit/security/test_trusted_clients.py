"""CGH_TRUSTED_CLIENTS: the sample file loads, and every kind of bad file stops start-up with a clear message."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from service.config import PROJECT_ROOT
from service.errors import ConfigError
from service.security import load_trusted_clients
from service.security import parse_trusted_clients
from tests.unit.security.signing import new_ec_key
from tests.unit.security.signing import new_rsa_key

SANDBOX_FILE = PROJECT_ROOT / "config" / "trusted-clients.sandbox.json"
SANDBOX_ISS = "https://sandbox.cds-hooks.org"
SANDBOX_KID = "44823f3d-0b01-4a6c-a80e-b9d3e8a7226f"
EC = new_ec_key("k1")


def test_sample_file_trusts_the_sandbox_key_and_its_jku() -> None:
    clients = load_trusted_clients(SANDBOX_FILE)
    sandbox = clients[SANDBOX_ISS]
    assert set(sandbox.keys) == {SANDBOX_KID}
    assert sandbox.keys[SANDBOX_KID].alg == "ES384"
    assert sandbox.jku_allowlist == {"https://sandbox.cds-hooks.org/.well-known/jwks.json"}
    assert "DEVELOPMENT ONLY" in sandbox.description


def test_full_entry_is_parsed() -> None:
    clients = parse_trusted_clients(
        [
            {
                "iss": "https://ehr.example.org",
                "jwks": EC.jwks(),
                "jwks_url": "https://ehr.example.org/jwks.json",
                "jku_allowlist": ["https://ehr.example.org/jwks.json", "http://127.0.0.1:9/jwks"],
                "tenants": ["t1"],
                "audiences": ["https://cds.example.org/hooks/"],
            }
        ]
    )
    client = clients["https://ehr.example.org"]
    assert client.jwks_url == "https://ehr.example.org/jwks.json"
    assert client.tenants == {"t1"}
    assert client.audiences == {"https://cds.example.org/hooks"}  # trailing slash normalised
    assert client.keys["k1"].alg == "ES384"


def test_rsa_key_verifies_rs384_only() -> None:
    clients = parse_trusted_clients([{"iss": "x", "jwks": new_rsa_key("r1").jwks()}])
    assert clients["x"].keys["r1"].alg == "RS384"


def _error(document: Any) -> str:
    with pytest.raises(ConfigError) as info:
        parse_trusted_clients(document)
    return str(info.value)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"iss": "x"}, "JSON list of clients"),
        (["x"], "client #0: must be a JSON object"),
        ([{"jwks_url": "https://a.example/j"}], "'iss' is required"),
        ([{"iss": " x"}], "'iss' is required"),
        ([{"iss": "x" * 600, "jwks_url": "https://a.example/j"}], "at most 512"),
        ([{"iss": "x"}], "no key source"),
        ([{"iss": "x", "jwks_uri": "https://a.example/j"}], "client #0 (iss 'x'): 'jwks_uri' is not a known field"),
        ([{"iss": "x", "jwks_url": "http://ehr.example.org/j"}], "must use https"),
        ([{"iss": "x", "jwks_url": "ftp://ehr.example.org/j"}], "must use https"),
        ([{"iss": "x", "jwks_url": "https://u:p@ehr.example.org/j"}], "no user:password"),
        ([{"iss": "x", "jwks_url": "https:///j"}], "with a host"),
        ([{"iss": "x", "jwks_url": "https://a.example:99999/j"}], "not a valid URL"),
        ([{"iss": "x", "jku_allowlist": "https://a.example/j"}], "'jku_allowlist' must be a list"),
        ([{"iss": "x", "jwks_url": "https://a.example/j", "tenants": [""]}], "'tenants' must be a list"),
        ([{"iss": "x", "jwks_url": "https://a.example/j", "audiences": [" https://a"]}], "spaces"),
        ([{"iss": "x", "jwks": {"keys": []}}], "must be a JWK Set"),
        ([{"iss": "x", "jwks": [EC.public_jwk()]}], "must be a JWK Set"),
        ([{"iss": "x", "jwks_url": "https://a.example/j", "description": 3}], "'description' must be a string"),
        (
            [{"iss": "x", "jwks_url": "https://a.example/j"}, {"iss": "x", "jwks_url": "https://b.example/j"}],
            "listed twice",
        ),
    ],
)
def test_bad_document_names_the_problem(document: Any, expected: str) -> None:
    assert expected in _error(document)


def _jwk(**changes: Any) -> dict[str, Any]:
    jwk = EC.public_jwk()
    jwk.update(changes)
    return {k: v for k, v in jwk.items() if v is not None}


@pytest.mark.parametrize(
    ("jwk", "expected"),
    [
        (_jwk(kid=None), "'kid' is required"),
        (_jwk(d="AAAA"), "private key material ['d']"),
        (_jwk(use="enc"), "use 'sig'"),
        (_jwk(key_ops=["encrypt"]), "'key_ops' must include 'verify'"),
        (_jwk(alg="ES256"), "verifies ES384 only"),
        (_jwk(alg="HS384"), "verifies ES384 only"),
        (_jwk(crv="P-256"), "curve P-384"),
        (_jwk(kty="oct"), "'kty' 'oct' is not accepted"),
        (_jwk(x="AAAA"), "not a valid EC public JWK"),
        ({**new_rsa_key("r", bits=1024).public_jwk()}, "at least 2048"),
        ({**new_rsa_key("r").public_jwk(), "alg": "RS256"}, "verifies RS384 only"),
        ("not-a-jwk", "must be a JSON object"),
    ],
)
def test_bad_key_names_the_problem(jwk: Any, expected: str) -> None:
    message = _error([{"iss": "x", "jwks": {"keys": [jwk]}}])
    assert expected in message
    assert "client #0 (iss 'x')" in message


def test_duplicate_kid_is_refused() -> None:
    assert "appears twice" in _error([{"iss": "x", "jwks": {"keys": [EC.public_jwk(), EC.public_jwk()]}}])


def test_loopback_http_urls_are_accepted() -> None:
    for url in ("http://127.0.0.1:8000/j", "http://localhost/j", "http://[::1]:9/j", "http://127.1.2.3/j"):
        assert parse_trusted_clients([{"iss": "x", "jwks_url": url}])["x"].jwks_url == url


def test_unreadable_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_trusted_clients(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text('[{"iss": "x",]')
    with pytest.raises(ConfigError, match=r"not valid JSON \(.* line 1, column 14\)"):
        load_trusted_clients(broken)
    good = tmp_path / "good.json"
    good.write_text(json.dumps([{"iss": "x", "jwks_url": "https://a.example/j"}]))
    assert list(load_trusted_clients(good)) == ["x"]
