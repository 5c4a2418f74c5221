"""Real servers for the integration tests: the Medplum in-memory FHIR R4 server (Node) on loopback.

``fhir_server`` (session) starts ``tests/fhir_server/server.mjs`` (Medplum's ``@medplum/fhir-router`` over a
``MemoryRepository``: Medplum, not HAPI) on a free loopback port, installing its npm packages first with
``scripts/install-fhir-server`` when ``node_modules`` is missing, and stops it at the end of the session.
``medplum`` (per test) is the same server emptied, so each test seeds exactly what it needs.
``strict_medplum`` (per test; session ``strict_fhir_server``) is a second instance started with ``--strict``:
it answers 400 to any search outside US Core's SHALL combinations and pages at its own small page size,
as strict EHR APIs do (issue 16).

Without Node.js the tests skip locally and fail in CI (``CI=true``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import urllib.request
from collections.abc import Iterable
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.unit.fhir.conftest import fhir_stub  # noqa: F401 (the error-injection stub, shared with unit tests)

REPO_ROOT = Path(__file__).resolve().parents[2]
FHIR_SERVER_DIR = REPO_ROOT / "tests" / "fhir_server"
INSTALL_SCRIPT = REPO_ROOT / "scripts" / "install-fhir-server"
START_TIMEOUT_S = 30.0


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _unavailable(reason: str) -> None:
    if _in_ci():
        pytest.fail(f"the Medplum FHIR test server is required in CI: {reason}")
    pytest.skip(reason)


@dataclass
class MedplumServer:
    """A running Medplum FHIR server: its base URL and helpers to load and clear data."""

    base_url: str
    process: subprocess.Popen[str]

    def post(self, path: str, body: Any) -> tuple[int, Any]:
        request = urllib.request.Request(
            f"{self.base_url}/{path.lstrip('/')}",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.base_url}/{path.lstrip('/')}", timeout=30) as response:
            return json.loads(response.read())

    def seed(self, resources: Iterable[dict[str, Any]]) -> None:
        """Store ``resources`` with their ids (one transaction of ``PUT Type/id``; ``POST`` when id-less)."""
        entries = []
        for resource in resources:
            if resource.get("id"):
                request = {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"}
            else:
                request = {"method": "POST", "url": resource["resourceType"]}
            entries.append({"resource": resource, "request": request})
        if not entries:
            return
        status, body = self.post("", {"resourceType": "Bundle", "type": "transaction", "entry": entries})
        assert status == 200, f"seeding Medplum failed: {json.dumps(body)[:1000]}"

    def reset(self) -> None:
        status, body = self.post("$reset", {})
        assert status == 200, body


@pytest.fixture(scope="session")
def fhir_server() -> Iterator[MedplumServer]:
    yield from _run_server(strict=False)


@pytest.fixture(scope="session")
def strict_fhir_server() -> Iterator[MedplumServer]:
    yield from _run_server(strict=True)


def _run_server(*, strict: bool) -> Iterator[MedplumServer]:
    node = shutil.which("node")
    if node is None:
        _unavailable("Node.js is not installed (needed for the Medplum FHIR test server)")
    assert node is not None
    if not (FHIR_SERVER_DIR / "node_modules" / "@medplum" / "fhir-router").is_dir():
        installed = subprocess.run([str(INSTALL_SCRIPT)], capture_output=True, text=True, check=False)
        if installed.returncode != 0:
            _unavailable(f"scripts/install-fhir-server failed: {installed.stderr[-2000:]}")
    stderr = tempfile.TemporaryFile(mode="w+")
    process = subprocess.Popen(
        [node, "server.mjs", "--port", "0", "--host", "127.0.0.1", *(["--strict"] if strict else [])],
        cwd=FHIR_SERVER_DIR,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    try:
        base_url = _wait_until_ready(process, stderr)
        yield MedplumServer(base_url, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
        stderr.close()


def _wait_until_ready(process: subprocess.Popen[str], stderr: Any) -> str:
    """The base URL from the server's ``READY <url>`` line; fails with its stderr if it does not start."""
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(process.stdout.readline() if process.stdout else ""))
    reader.daemon = True
    reader.start()
    reader.join(START_TIMEOUT_S)
    if not line or not line[0].startswith("READY "):
        process.kill()
        process.wait(timeout=10)
        stderr.seek(0)
        pytest.fail(f"the Medplum FHIR server did not start: {(line or [''])[0]!r} {stderr.read()[-2000:]}")
    return line[0].split(" ", 1)[1].strip()


@pytest.fixture
def medplum(fhir_server: MedplumServer) -> MedplumServer:
    """The session's Medplum server, emptied before the test."""
    fhir_server.reset()
    return fhir_server


@pytest.fixture
def strict_medplum(strict_fhir_server: MedplumServer) -> MedplumServer:
    """The session's strict Medplum server (US Core SHALL searches only, small pages), emptied."""
    strict_fhir_server.reset()
    return strict_fhir_server
