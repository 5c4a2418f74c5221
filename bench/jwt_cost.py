"""What client authentication costs per request, measured in isolation (``bench/run --only auth``).

For ES384 and RS384, with cached keys:

* ``signature``: the raw signature check alone (``_VERIFIERS[alg].verify``: OpenSSL through ``cryptography``),
  the work no implementation can skip;
* ``verify``: ``TokenVerifier.verify`` (parse, header and claim checks, signature) with an in-memory replay
  cache, so the figure is the verifier's own work; ``verify - signature`` is what we add on top of OpenSSL;
* ``replay insert``: ``Store.claim_jti`` (the shared replay cache) on SQLite and, when a PostgreSQL URL is
  given, on PostgreSQL: wall time and the calling thread's CPU time (PostgreSQL's own CPU is in its server
  processes, not here).

Every sample is CPU time of this thread (``time.thread_time``) beside wall time, alternating signature and
verify token by token, so a neighbour's burst hits both. The load test (``bench.auth_load``) divides these by
the server's CPU per request to give the share of each request spent on verification and on the replay insert.
"""

from __future__ import annotations

import base64
import tempfile
import time
import uuid
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import ECAlgorithm
from jwt.algorithms import RSAAlgorithm

ISS = "https://ehr.bench.example"
AUDIENCE_BASE = "https://cds.bench.example"
ALGORITHMS = ("ES384", "RS384")


class ClientKey:
    """A bench CDS client's private key for one algorithm, its kid and public JWK."""

    def __init__(self, alg: str) -> None:
        self.alg = alg
        self.kid = f"bench-{alg.lower()}"
        if alg == "ES384":
            self.private: Any = ec.generate_private_key(ec.SECP384R1())
            jwk = ECAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        else:
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            jwk = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        self.public_jwk: dict[str, Any] = {**jwk, "kid": self.kid, "use": "sig", "alg": alg}

    def mint(self, aud: str, *, iss: str = ISS) -> str:
        """A fresh client JWT (unique ``jti``, 5-minute lifetime) as a CDS client sends it."""
        now = int(time.time())
        payload = {"iss": iss, "aud": aud, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())}
        return jwt.encode(payload, self.private, algorithm=self.alg, headers={"typ": "JWT", "kid": self.kid})


class _MemoryReplay:
    """The replay cache minus the database: isolates the verifier's own cost."""

    def __init__(self) -> None:
        self.seen: set[tuple[str, str]] = set()

    def claim_jti(self, iss: str, jti: str, expires_at: datetime) -> bool:
        if (iss, jti) in self.seen:
            return False
        self.seen.add((iss, jti))
        return True


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def verification_cost(alg: str, *, tokens: int) -> dict[str, Any]:
    """Signature alone vs ``TokenVerifier.verify`` (in-memory replay) on ``tokens`` fresh tokens."""
    from service.security import TokenVerifier
    from service.security import parse_trusted_clients
    from service.security.tokens import _VERIFIERS

    key = ClientKey(alg)
    clients = parse_trusted_clients([{"iss": ISS, "jwks": {"keys": [key.public_jwk]}}])
    verifier = TokenVerifier(clients, public_base_url=AUDIENCE_BASE, replay=_MemoryReplay())
    algorithm = _VERIFIERS[alg]
    public = clients[ISS].keys[key.kid].key
    minted = [key.mint(f"{AUDIENCE_BASE}/cds-services/cgh-patient-view") for _ in range(tokens)]
    raw_wall, raw_cpu, full_wall, full_cpu = [], [], [], []
    for index, token in enumerate(minted):
        head, body, sig = token.split(".")
        signature = base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
        signing_input = f"{head}.{body}".encode()
        c0, t0 = time.thread_time(), time.perf_counter()
        if not algorithm.verify(signing_input, public, signature):
            raise RuntimeError(f"{alg}: the bench's own token failed the signature check")
        c1, t1 = time.thread_time(), time.perf_counter()
        verifier.verify(f"Bearer {token}", "/cds-services/cgh-patient-view")
        c2, t2 = time.thread_time(), time.perf_counter()
        if index >= 20:  # warm-up
            raw_wall.append(t1 - t0)
            raw_cpu.append(c1 - c0)
            full_wall.append(t2 - t1)
            full_cpu.append(c2 - c1)
    signature_us = _median(raw_cpu) * 1e6
    verify_us = _median(full_cpu) * 1e6
    return {
        "alg": alg,
        "tokens": len(full_cpu),
        "signature_cpu_us": round(signature_us, 1),
        "signature_wall_us": round(_median(raw_wall) * 1e6, 1),
        "verify_cpu_us": round(verify_us, 1),
        "verify_wall_us": round(_median(full_wall) * 1e6, 1),
        "verify_p95_wall_us": round(_p95(full_wall) * 1e6, 1),
        # What the verifier adds on top of OpenSSL's check (was a unit test's "< 0.3 ms"; a bench figure now).
        "overhead_cpu_us": round(verify_us - signature_us, 1),
    }


def replay_insert_cost(url: str, label: str, *, inserts: int) -> dict[str, Any]:
    """``Store.claim_jti`` of fresh jtis on ``url``: wall and this thread's CPU, p50 and p95."""
    from service.store import Store

    store = Store(url, audit_key="bench")
    store.create_schema()
    try:
        expires = datetime.now(UTC) + timedelta(minutes=6)
        wall: list[float] = []
        cpu: list[float] = []
        for index in range(inserts + 10):
            c0, t0 = time.thread_time(), time.perf_counter()
            if not store.claim_jti(ISS, str(uuid.uuid4()), expires):
                raise RuntimeError(f"{label}: a fresh jti was refused")
            c1, t1 = time.thread_time(), time.perf_counter()
            if index >= 10:
                wall.append(t1 - t0)
                cpu.append(c1 - c0)
        replayed = str(uuid.uuid4())
        store.claim_jti(ISS, replayed, expires)
        if store.claim_jti(ISS, replayed, expires):
            raise RuntimeError(f"{label}: a replayed jti was accepted")
    finally:
        store.dispose()
    return {
        "store": label,
        "inserts": len(wall),
        "wall_p50_us": round(_median(wall) * 1e6, 1),
        "wall_p95_us": round(_p95(wall) * 1e6, 1),
        "cpu_p50_us": round(_median(cpu) * 1e6, 1),
    }


def jwt_cost_section(*, quick: bool, postgres_url: str | None) -> dict[str, Any]:
    """Verification for both algorithms and the replay insert on SQLite (and PostgreSQL when given)."""
    tokens = 200 if quick else 800
    inserts = 100 if quick else 400
    verification = [verification_cost(alg, tokens=tokens) for alg in ALGORITHMS]
    with tempfile.TemporaryDirectory(prefix="cgh-bench-jti-") as tmp:
        replay = [replay_insert_cost(f"sqlite:///{tmp}/replay.sqlite3", "sqlite", inserts=inserts)]
    if postgres_url:
        replay.append(replay_insert_cost(postgres_url, "postgresql", inserts=inserts))
    return {"verification": verification, "replay": replay}


def render_cost(cost: dict[str, Any]) -> list[str]:
    lines = ["JWT verification in isolation (median CPU of this thread, wall beside it; cached keys):",
             f"{'alg':<7} {'signature us':>13} {'verify() us':>12} {'overhead us':>12} {'verify wall p50/p95 us':>24}"]
    for row in cost["verification"]:
        lines.append(f"{row['alg']:<7} {row['signature_cpu_us']:>13.1f} {row['verify_cpu_us']:>12.1f} "
                     f"{row['overhead_cpu_us']:>12.1f} {row['verify_wall_us']:>12.1f} / "
                     f"{row['verify_p95_wall_us']:<9.1f}")
    lines.append("Replay-cache insert (Store.claim_jti, one fresh jti, durable commit):")
    for row in cost["replay"]:
        lines.append(f"  {row['store']:<11} wall p50 {row['wall_p50_us']:>8.1f} us  p95 {row['wall_p95_us']:>8.1f} us  "
                     f"CPU p50 {row['cpu_p50_us']:>7.1f} us")
    return lines
