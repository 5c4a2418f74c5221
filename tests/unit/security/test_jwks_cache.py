"""Remote JWK Sets: fetched once and cached parsed, refreshed once on an unknown kid (rate-limited), bounded
in time and size, no redirects, old keys kept when the key endpoint is down."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest

from service.security.keys import KeyFetchError
from service.security.keys import RemoteKeySets
from service.security.keys import fetch_jwks
from service.security.keys import parse_jwk_set
from tests.unit.security.signing import JwksServer
from tests.unit.security.signing import new_ec_key
from tests.unit.security.signing import new_rsa_key

K1 = new_ec_key("k1")
K2 = new_ec_key("k2")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def server() -> Iterator[JwksServer]:
    server = JwksServer().start()
    yield server
    server.stop()


def test_fetch_once_then_cached(server: JwksServer) -> None:
    server.documents["/j"] = K1.jwks()
    cache = RemoteKeySets()
    for _ in range(10):
        key = cache.find(server.url("/j"), "k1")
        assert key is not None and key.alg == "ES384"
    assert server.count("/j") == 1


def test_unknown_kid_refreshes_once_then_rate_limited(server: JwksServer) -> None:
    clock = FakeClock()
    server.documents["/j"] = K1.jwks()
    cache = RemoteKeySets(clock=clock, min_refresh_interval_s=10)
    assert cache.find(server.url("/j"), "k1") is not None
    clock.now += 11
    # Key rotation: the client now publishes k2; the first token with k2 triggers one refresh.
    server.documents["/j"] = {"keys": [K1.public_jwk(), K2.public_jwk()]}
    assert cache.find(server.url("/j"), "k2") is not None
    assert server.count("/j") == 2
    # A flood of unknown kids within the interval costs no request.
    for index in range(50):
        assert cache.find(server.url("/j"), f"nope-{index}") is None
    assert server.count("/j") == 2
    clock.now += 11
    assert cache.find(server.url("/j"), "nope") is None
    assert server.count("/j") == 3


def test_stale_set_is_refreshed_and_kept_if_the_endpoint_is_down(server: JwksServer) -> None:
    clock = FakeClock()
    server.documents["/j"] = K1.jwks()
    cache = RemoteKeySets(clock=clock, max_age_s=60, min_refresh_interval_s=5)
    assert cache.find(server.url("/j"), "k1") is not None
    del server.documents["/j"]
    clock.now += 61
    assert cache.find(server.url("/j"), "k1") is not None  # refresh failed (404): old keys kept
    assert server.count("/j") == 2


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (b"not json", "not JSON"),
        (json.dumps({"kid": "x"}).encode(), "not a JWK Set"),
        (json.dumps({"keys": [{"kty": "oct", "kid": "s", "k": "c2VjcmV0"}]}).encode(), "no usable"),
    ],
)
def test_bad_documents_give_no_keys(
    server: JwksServer, document: bytes, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    server.documents["/bad"] = document
    assert RemoteKeySets().find(server.url("/bad"), "x") is None


def test_parse_jwk_set_skips_unusable_keys() -> None:
    document = {
        "keys": [
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            new_ec_key("p384").public_jwk(),
            {**new_rsa_key("rs256").public_jwk(), "alg": "RS256"},
            new_rsa_key("rs").public_jwk(),
        ]
    }
    assert set(parse_jwk_set(document, source="test")) == {"p384", "rs"}
    with pytest.raises(KeyFetchError, match="no usable"):
        parse_jwk_set({"keys": [document["keys"][0]]}, source="test")


def test_fetch_refuses_large_bodies(server: JwksServer) -> None:
    server.documents["/big"] = b"x" * 300_000
    with pytest.raises(KeyFetchError, match="over 1000"):
        fetch_jwks(server.url("/big"), connect_timeout_s=1, read_timeout_s=1, deadline_s=5, max_bytes=1000)


def test_fetch_times_out(server: JwksServer) -> None:
    server.documents["/slow"] = K1.jwks()
    server.delay_s = 1.0
    try:
        with pytest.raises(KeyFetchError, match="Timeout"):
            fetch_jwks(server.url("/slow"), connect_timeout_s=0.2, read_timeout_s=0.2, deadline_s=1, max_bytes=10**6)
    finally:
        server.delay_s = 0.0


def test_fetch_does_not_follow_redirects() -> None:
    from http.server import BaseHTTPRequestHandler
    from http.server import ThreadingHTTPServer

    hits: list[str] = []

    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            hits.append(self.path)
            self.send_response(302)
            self.send_header("Location", "/elsewhere")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/jwks"
        with pytest.raises(KeyFetchError, match="HTTP 302"):
            fetch_jwks(url, connect_timeout_s=1, read_timeout_s=1, deadline_s=2, max_bytes=10**6)
        assert hits == ["/jwks"]
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_unreachable_endpoint_is_a_fetch_error() -> None:
    with pytest.raises(KeyFetchError, match="ConnectionError"):
        fetch_jwks("http://127.0.0.1:9/jwks", connect_timeout_s=0.5, read_timeout_s=0.5, deadline_s=1, max_bytes=10)


def test_concurrent_unknown_kids_cause_one_fetch(server: JwksServer) -> None:
    server.documents["/j"] = K1.jwks()
    server.delay_s = 0.2
    cache = RemoteKeySets()
    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(cache.find(server.url("/j"), "k1"))) for _ in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        server.delay_s = 0.0
    assert all(result is not None for result in results)
    assert server.count("/j") == 1
