"""A threaded stub FHIR server on loopback and small FHIR resource builders for the fhir unit tests."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

PATIENT_ID = "p1"


@dataclass
class Route:
    status: int = 200
    body: Any = None
    raw: bytes | None = None
    delay_s: float = 0.0


@dataclass
class StubFhirServer:
    """Answers GETs by path (query ignored) from ``routes``; records every request's path and headers."""

    base_url: str = ""
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def route(
        self, path: str, body: Any = None, *, status: int = 200, raw: bytes | None = None, delay_s: float = 0.0
    ) -> None:
        self.routes[path] = Route(status, body, raw, delay_s)

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]


def _handler(stub: StubFhirServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            stub.requests.append((self.path, dict(self.headers.items())))
            route = stub.routes.get(urlsplit(self.path).path) or Route(
                404, {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "not-found"}]}
            )
            if route.delay_s:
                time.sleep(route.delay_s)
            payload = route.raw if route.raw is not None else json.dumps(route.body).encode()
            try:
                self.send_response(route.status)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (deadline tests)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    return Handler


@pytest.fixture
def fhir_stub() -> Iterator[StubFhirServer]:
    stub = StubFhirServer()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(stub))
    server.daemon_threads = True
    stub.base_url = f"http://127.0.0.1:{server.server_address[1]}/fhir"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield stub
    server.shutdown()
    server.server_close()


def patient(patient_id: str = PATIENT_ID, **fields: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": patient_id, "birthDate": "1980-02-03", "gender": "female", **fields}


def condition(
    resource_id: str, code: str = "G44.86", subject: str = f"Patient/{PATIENT_ID}", **fields: Any
) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": resource_id,
        "clinicalStatus": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]
        },
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": code}]},
        "subject": {"reference": subject},
        "onsetDateTime": "2025-03-01",
        **fields,
    }


def procedure(
    resource_id: str, code: str = "97110", subject: str = f"Patient/{PATIENT_ID}", **fields: Any
) -> dict[str, Any]:
    return {
        "resourceType": "Procedure",
        "id": resource_id,
        "status": "completed",
        "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": code}]},
        "subject": {"reference": subject},
        "performedDateTime": "2025-04-01T10:00:00Z",
        **fields,
    }


def searchset(*resources: dict[str, Any], next_url: str | None = None) -> dict[str, Any]:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"resource": resource} for resource in resources],
    }
    if next_url:
        bundle["link"] = [{"relation": "next", "url": next_url}]
    return bundle
