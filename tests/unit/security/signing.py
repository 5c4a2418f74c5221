"""Test helpers for client authentication: key pairs, token minting, a local JWKS server, and the negative
matrix of tokens shared by the unit tests (tiny Flask app) and the gunicorn integration tests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import ECAlgorithm
from jwt.algorithms import RSAAlgorithm


@dataclass(frozen=True)
class SigningKey:
    """A client's private key, its kid and the algorithm it signs with."""

    kid: str
    alg: str
    private: Any = field(repr=False)

    def public_jwk(self, **extra: Any) -> dict[str, Any]:
        public = self.private.public_key()
        algorithm = ECAlgorithm if self.alg.startswith("ES") else RSAAlgorithm
        jwk: dict[str, Any] = algorithm.to_jwk(public, as_dict=True)
        jwk.update({"kid": self.kid, "use": "sig", "alg": self.alg, **extra})
        return jwk

    def public_pem(self) -> bytes:
        return bytes(
            self.private.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.public_jwk()]}


def new_ec_key(kid: str) -> SigningKey:
    return SigningKey(kid=kid, alg="ES384", private=ec.generate_private_key(ec.SECP384R1()))


def new_rsa_key(kid: str, bits: int = 2048) -> SigningKey:
    return SigningKey(kid=kid, alg="RS384", private=rsa.generate_private_key(public_exponent=65537, key_size=bits))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint(
    key: SigningKey,
    *,
    iss: str,
    aud: Any,
    jti: str | None = None,
    now: float | None = None,
    lifetime: float = 300,
    header: dict[str, Any] | None = None,
    claims: dict[str, Any] | None = None,
    drop: tuple[str, ...] = (),
    drop_header: tuple[str, ...] = (),
    alg: str | None = None,
) -> str:
    """A signed JWT as a CDS client would send it; ``claims``/``header`` override, ``drop`` removes."""
    now = time.time() if now is None else now
    payload: dict[str, Any] = {
        "iss": iss,
        "aud": aud,
        "exp": int(now + lifetime),
        "iat": int(now),
        "jti": jti or str(uuid.uuid4()),
    }
    payload.update(claims or {})
    for name in drop:
        payload.pop(name, None)
    headers: dict[str, Any] = {"typ": "JWT", "kid": key.kid}
    headers.update(header or {})
    token = jwt.encode(payload, key.private, algorithm=alg or key.alg, headers=headers)
    if drop_header:
        # PyJWT always writes alg/typ; rebuild the header segment without the dropped fields (signature
        # then no longer matches, but every header check runs before the signature check).
        head, body, sig = token.split(".")
        decoded = json.loads(base64.urlsafe_b64decode(head + "=="))
        for name in drop_header:
            decoded.pop(name, None)
        token = ".".join([b64url(json.dumps(decoded).encode()), body, sig])
    return token


def unsigned(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    """A hand-made compact JWS (for alg none and other forgeries)."""
    return ".".join([b64url(json.dumps(header).encode()), b64url(json.dumps(payload).encode()), b64url(signature)])


def hmac_forgery(key: SigningKey, *, iss: str, aud: str, alg: str = "HS384") -> str:
    """The classic algorithm-confusion attack: HMAC-sign with the client's *public* key as the secret."""
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    now = int(time.time())
    header = {"alg": alg, "typ": "JWT", "kid": key.kid}
    payload = {"iss": iss, "aud": aud, "exp": now + 300, "iat": now, "jti": str(uuid.uuid4())}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(payload).encode())
    signature = hmac.new(key.public_pem(), signing_input.encode(), digest).digest()
    return signing_input + "." + b64url(signature)


class JwksServer:
    """A threaded HTTP server on 127.0.0.1 serving JSON documents by path and counting every request."""

    def __init__(self) -> None:
        self.documents: dict[str, Any] = {}
        self.requests: dict[str, int] = {}
        self.delay_s = 0.0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server naming
                with server._lock:
                    server.requests[self.path] = server.requests.get(self.path, 0) + 1
                if server.delay_s:
                    time.sleep(server.delay_s)
                document = server.documents.get(self.path)
                if document is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                body = document if isinstance(document, bytes) else json.dumps(document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def count(self, path: str) -> int:
        with self._lock:
            return self.requests.get(path, 0)

    def start(self) -> JwksServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@contextmanager
def running_jwks_server() -> Iterator[JwksServer]:
    server = JwksServer().start()
    try:
        yield server
    finally:
        server.stop()


# --- the negative / positive matrix -----------------------------------------------------------------------

ISS = "https://ehr.example.org/fhir"
EPIC_ISS = "https://epic.example.org/interconnect-fhir/api/FHIR/R4"
TENANT_ISS = "https://tenanted.example.org"
EPIC_AUDIENCE = "https://cds.example.org/savecdshooksrequest"


@dataclass
class World:
    """Everything a matrix case needs: keys, the JWKS server, the service's public base URL."""

    base: str
    ec: SigningKey
    rsa: SigningKey
    impostor: SigningKey  # same kid as ``ec``, different key
    tenant_key: SigningKey
    jwks: JwksServer

    @property
    def evil_jku(self) -> str:
        return self.jwks.url("/evil/jwks.json")

    @property
    def allowed_jku(self) -> str:
        return self.jwks.url("/ehr/jwks.json")

    def aud(self, path: str) -> str:
        return self.base + path

    def trusted_clients(self) -> list[dict[str, Any]]:
        """The trusted-clients document the service under test loads."""
        self.jwks.documents["/ehr/jwks.json"] = self.ec.jwks()
        self.jwks.documents["/epic/jwks.json"] = self.rsa.jwks()
        # If the service ever fetched this un-allowlisted jku, the forged token would verify.
        self.jwks.documents["/evil/jwks.json"] = {"keys": [self.impostor.public_jwk(kid="evil-kid")]}
        return [
            {"iss": ISS, "jwks": self.ec.jwks(), "jku_allowlist": [self.allowed_jku]},
            {
                "iss": EPIC_ISS,
                "jwks_url": self.jwks.url("/epic/jwks.json"),
                "audiences": [EPIC_AUDIENCE],
            },
            {"iss": TENANT_ISS, "jwks": self.tenant_key.jwks(), "tenants": ["tenant-a"]},
        ]


def make_world(base: str, jwks: JwksServer) -> World:
    return World(
        base=base.rstrip("/"),
        ec=new_ec_key("ehr-key-1"),
        rsa=new_rsa_key("epic-key-1"),
        impostor=new_ec_key("ehr-key-1"),
        tenant_key=new_ec_key("tenant-key-1"),
        jwks=jwks,
    )


@dataclass(frozen=True)
class Case:
    """One request: its name, method and path, how to build the Authorization header, the expected status."""

    name: str
    build: Callable[[World, str], str | None]
    expected: int
    method: str = "GET"
    path: str = "/cds-services"


def _bearer(token: str) -> str:
    return f"Bearer {token}"


def _ok(world: World, path: str) -> str:
    return _bearer(mint(world.ec, iss=ISS, aud=world.aud(path)))


def _missing(claim: str) -> Callable[[World, str], str]:
    return lambda w, p: _bearer(mint(w.ec, iss=ISS, aud=w.aud(p), drop=(claim,)))


def _missing_header(name: str) -> Callable[[World, str], str]:
    return lambda w, p: _bearer(mint(w.ec, iss=ISS, aud=w.aud(p), drop_header=(name,)))


def _alg_none(world: World, path: str) -> str:
    now = int(time.time())
    payload = {"iss": ISS, "aud": world.aud(path), "exp": now + 300, "iat": now, "jti": str(uuid.uuid4())}
    return _bearer(unsigned({"alg": "none", "typ": "JWT", "kid": world.ec.kid}, payload, b"x"))


def _alg_none_empty_signature(world: World, path: str) -> str:
    now = int(time.time())
    payload = {"iss": ISS, "aud": world.aud(path), "exp": now + 300, "iat": now, "jti": str(uuid.uuid4())}
    return _bearer(unsigned({"alg": "none", "typ": "JWT", "kid": world.ec.kid}, payload))


NEGATIVE: list[Case] = [
    Case("no-authorization-header", lambda w, p: None, 401),
    Case("empty-authorization-header", lambda w, p: "", 401),
    Case("basic-scheme", lambda w, p: "Basic dXNlcjpwYXNz", 401),
    Case("bearer-without-token", lambda w, p: "Bearer ", 401),
    Case("garbage-token", lambda w, p: "Bearer not-a-jwt", 401),
    Case("garbage-three-segments", lambda w, p: "Bearer aaa.bbb.ccc", 401),
    Case("token-without-scheme", lambda w, p: mint(w.ec, iss=ISS, aud=w.aud(p)), 401),
    Case("alg-none", _alg_none, 401),
    Case("alg-none-empty-signature", _alg_none_empty_signature, 401),
    Case("hs384-public-key-as-secret", lambda w, p: _bearer(hmac_forgery(w.ec, iss=ISS, aud=w.aud(p))), 401),
    Case(
        "hs256-public-key-as-secret",
        lambda w, p: _bearer(hmac_forgery(w.ec, iss=ISS, aud=w.aud(p), alg="HS256")),
        401,
    ),
    Case("wrong-key-right-kid", lambda w, p: _bearer(mint(w.impostor, iss=ISS, aud=w.aud(p))), 401),
    Case(
        "unknown-kid",
        lambda w, p: _bearer(mint(w.ec, iss=ISS, aud=w.aud(p), header={"kid": "no-such-kid"})),
        401,
    ),
    Case("untrusted-iss", lambda w, p: _bearer(mint(w.ec, iss="https://attacker.example", aud=w.aud(p))), 401),
    Case(
        "jku-not-allowlisted",
        lambda w, p: _bearer(mint(w.impostor, iss=ISS, aud=w.aud(p), header={"jku": w.evil_jku, "kid": "evil-kid"})),
        401,
    ),
    Case(
        "aud-of-another-endpoint",
        lambda w, p: _bearer(mint(w.ec, iss=ISS, aud=w.aud("/cds-services/cgh-patient-view"))),
        401,
    ),
    Case("aud-other-host", lambda w, p: _bearer(mint(w.ec, iss=ISS, aud="https://other.example" + p)), 401),
    Case("aud-empty-list", lambda w, p: _bearer(mint(w.ec, iss=ISS, aud=[])), 401),
    Case(
        "expired",
        lambda w, p: _bearer(mint(w.ec, iss=ISS, aud=w.aud(p), now=time.time() - 3600, lifetime=300)),
        401,
    ),
    Case(
        "iat-in-the-future",
        lambda w, p: _bearer(mint(w.ec, iss=ISS, aud=w.aud(p), now=time.time() + 600)),
        401,
    ),
    Case(
        "nbf-in-the-future",
        lambda w, p: _bearer(mint(w.ec, iss=ISS, aud=w.aud(p), claims={"nbf": int(time.time()) + 600})),
        401,
    ),
    Case(
        "lifetime-over-an-hour",
        lambda w, p: _bearer(mint(w.ec, iss=ISS, aud=w.aud(p), lifetime=7200)),
        401,
    ),
    Case("missing-iss", _missing("iss"), 401),
    Case("missing-aud", _missing("aud"), 401),
    Case("missing-exp", _missing("exp"), 401),
    Case("missing-iat", _missing("iat"), 401),
    Case("missing-jti", _missing("jti"), 401),
    Case("missing-kid-header", _missing_header("kid"), 401),
    Case("missing-typ-header", _missing_header("typ"), 401),
    Case(
        "typ-not-jwt",
        lambda w, p: _bearer(mint(w.ec, iss=ISS, aud=w.aud(p), header={"typ": "at+jwt"})),
        401,
    ),
    Case(
        "exp-as-string",
        lambda w, p: _bearer(mint(w.ec, iss=ISS, aud=w.aud(p), claims={"exp": str(int(time.time()) + 300)})),
        401,
    ),
    Case(
        "rs384-header-on-ec-key",
        lambda w, p: _bearer(mint(w.rsa, iss=ISS, aud=w.aud(p), header={"kid": w.ec.kid})),
        401,
    ),
    Case(
        "es256-not-accepted",
        lambda w, p: _bearer(
            jwt.encode(
                {"iss": ISS, "aud": w.aud(p), "exp": int(time.time()) + 300, "iat": int(time.time()), "jti": "x"},
                ec.generate_private_key(ec.SECP256R1()),
                algorithm="ES256",
                headers={"kid": w.ec.kid, "typ": "JWT"},
            )
        ),
        401,
    ),
    Case(
        "crit-header",
        lambda w, p: _bearer(mint(w.ec, iss=ISS, aud=w.aud(p), header={"crit": ["exp"]})),
        401,
    ),
    Case("tenant-missing", lambda w, p: _bearer(mint(w.tenant_key, iss=TENANT_ISS, aud=w.aud(p))), 401),
    Case(
        "tenant-not-listed",
        lambda w, p: _bearer(mint(w.tenant_key, iss=TENANT_ISS, aud=w.aud(p), claims={"tenant": "tenant-b"})),
        401,
    ),
    Case(
        "epic-aud-for-another-client",
        lambda w, p: _bearer(mint(w.ec, iss=ISS, aud=EPIC_AUDIENCE)),
        401,
    ),
]

POSITIVE: list[Case] = [
    Case("es384-inline-key", _ok, 200),
    Case("aud-as-array", lambda w, p: _bearer(mint(w.ec, iss=ISS, aud=["https://x.example", w.aud(p)])), 200),
    Case("aud-trailing-slash", lambda w, p: _bearer(mint(w.ec, iss=ISS, aud=w.aud(p) + "/")), 200),
    Case(
        "jku-allowlisted",
        lambda w, p: _bearer(mint(w.ec, iss=ISS, aud=w.aud(p), header={"jku": w.allowed_jku})),
        200,
    ),
    Case(
        "epic-like-rs384-sub-nbf-jwks-url",
        lambda w, p: _bearer(
            mint(
                w.rsa,
                iss=EPIC_ISS,
                aud=w.aud(p),
                lifetime=900,
                claims={"sub": "epic-client-id", "nbf": int(time.time()) - 300, "x-extra": {"any": 1}},
            )
        ),
        200,
    ),
    Case(
        "epic-configured-audience",
        lambda w, p: _bearer(mint(w.rsa, iss=EPIC_ISS, aud=EPIC_AUDIENCE, claims={"sub": "epic-client-id"})),
        200,
    ),
    Case(
        "tenant-listed",
        lambda w, p: _bearer(mint(w.tenant_key, iss=TENANT_ISS, aud=w.aud(p), claims={"tenant": "tenant-a"})),
        200,
    ),
    Case(
        "clock-skew-within-leeway",
        lambda w, p: _bearer(mint(w.ec, iss=ISS, aud=w.aud(p), now=time.time() + 30)),
        200,
    ),
]
