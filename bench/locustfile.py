"""Locust user for the production-like load test (``bench.auth_load`` runs it headless; not a unit test).

Each simulated EHR posts the four hooks' typical requests in turn (a round-robin mix, no think time: a closed
loop like ``wrk -c N``) and, unless ``BENCH_JWT_ALG`` is ``off``, signs a fresh client JWT per request (unique
``jti``, ``aud`` = the endpoint's URL) with the private key in ``BENCH_JWT_KEY`` (PEM). ``BENCH_MANIFEST``
names a JSON list of ``{"name", "path", "body_file"}``. Anything but a 200 whose body holds a ``cards`` list is a
failure, recorded by locust; every answer's status is also counted and written to ``BENCH_STATUS_FILE`` at the
end (``bench.auth_load`` turns anything but 200 into a problem naming the status and the hook).
"""

from __future__ import annotations

import collections
import itertools
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from locust import FastHttpUser
from locust import constant
from locust import events
from locust import task

_MANIFEST: list[dict[str, Any]] = json.loads(Path(os.environ["BENCH_MANIFEST"]).read_text())
_BODIES = [(entry["name"], entry["path"], Path(entry["body_file"]).read_bytes()) for entry in _MANIFEST]
_ALG = os.environ.get("BENCH_JWT_ALG", "off")
_KID = os.environ.get("BENCH_JWT_KID", "")
_ISS = os.environ.get("BENCH_JWT_ISS", "")
_AUDIENCE_BASE = os.environ.get("BENCH_AUDIENCE_BASE", "")
_STATUSES: collections.Counter[str] = collections.Counter()
_KEY: Any = (serialization.load_pem_private_key(Path(os.environ["BENCH_JWT_KEY"]).read_bytes(), password=None)
             if _ALG != "off" else None)


def client_jwt(path: str) -> str:
    now = int(time.time())
    payload = {"iss": _ISS, "aud": _AUDIENCE_BASE + path, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())}
    return jwt.encode(payload, _KEY, algorithm=_ALG, headers={"typ": "JWT", "kid": _KID})


class Ehr(FastHttpUser):
    wait_time = constant(0)

    def on_start(self) -> None:
        # Users start at different hooks so the mix is even from the first second.
        start = int(uuid.uuid4()) % len(_BODIES)
        self._cycle = itertools.islice(itertools.cycle(_BODIES), start, None)

    @task
    def hook(self) -> None:
        name, path, body = next(self._cycle)
        headers = {"Content-Type": "application/json"}
        if _KEY is not None:
            headers["Authorization"] = f"Bearer {client_jwt(path)}"
        with self.client.post(path, data=body, headers=headers, name=name, catch_response=True) as response:
            _STATUSES[f"{name}: {response.status_code or 'socket error'}"] += 1
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
            elif path.startswith("/cds-services/") and not isinstance((response.json() or {}).get("cards"), list):
                response.failure("200 without a cards list")


@events.quitting.add_listener
def _write_statuses(**_: Any) -> None:
    target = os.environ.get("BENCH_STATUS_FILE")
    if target:
        Path(target).write_text(json.dumps(dict(_STATUSES)))
