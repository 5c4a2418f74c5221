"""A service to fuzz and the schemathesis CLI to fuzz it with.

:func:`fuzz_target` starts ``cgh-cds serve`` (gunicorn) on 127.0.0.1 with ``CGH_AUTH=required``, trusting one
client whose RSA key it generates; :func:`run_schemathesis` runs ``st run <service>/openapi.yaml`` against it
with the given checks, phases and budget, signing each request through :mod:`tests.fuzzing.st_hooks`, and
reads the run's figures from its NDJSON report. ``schemathesis.toml`` (repository root, found from the working
directory) says which statuses the checks accept.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from tests.fuzzing.report import ReportFollower
from tests.fuzzing.report import RunFigures
from tests.fuzzing.report import figures_of
from tests.servers import REPO_ROOT
from tests.servers import RunningService
from tests.servers import running_service
from tests.unit.security.signing import new_rsa_key

SCHEMATHESIS = Path(sys.executable).parent / "st"
ISSUER = "https://ehr.example.org/fhir"
ADMIN_TOKEN = "fuzz-admin-token"
#: Every check schemathesis has, and every phase.
ALL_CHECKS = "all"
ALL_PHASES = "examples,coverage,fuzzing,stateful"


@dataclass
class FuzzTarget:
    service: RunningService
    workdir: Path
    #: Environment of the schemathesis process: the hooks module and what it signs tokens with.
    env: dict[str, str]

    def rejection_reasons(self) -> list[str]:
        """Why the service refused tokens so far (its log names the reason, never the token)."""
        return re.findall(r'"reason": "([^"]*)"', self.service.log())


@contextmanager
def fuzz_target(
    workdir: Path, *, workers: int = 2, fhir_timeout_s: float = 0.2, sandbox: bool = True
) -> Iterator[FuzzTarget]:
    """The running service (auth required) and the signing material of its one trusted client.

    ``sandbox``: ``CGH_SANDBOX=on``. The sandbox is off by default in production (404 ``sandbox-off``), but
    operators may turn it on, so it is fuzzed on unless asked otherwise."""
    key = new_rsa_key("fuzz-key")  # RS384: the cheapest signature to check, so the budget goes to bodies
    clients = workdir / "trusted-clients.json"
    clients.write_text(json.dumps([{"iss": ISSUER, "jwks": key.jwks()}]))
    pem = workdir / "client-key.pem"
    pem.write_bytes(
        key.private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    env = {
        "CGH_AUTH": "required",
        "CGH_TRUSTED_CLIENTS": str(clients),
        "CGH_CORS_ORIGINS": "https://sandbox.cds-hooks.org",
        "CGH_ADMIN_TOKEN": ADMIN_TOKEN,
        "CGH_SANDBOX": "on" if sandbox else "off",
        # A fhirServer the fuzzer makes up is unreachable: fail fast (412) instead of holding a worker.
        "CGH_FHIR_TIMEOUT_S": str(fhir_timeout_s),
    }
    with running_service(workdir, env, workers=workers) as service:
        hooks_env = {
            "SCHEMATHESIS_HOOKS": "tests.fuzzing.st_hooks",
            "PYTHONPATH": str(REPO_ROOT),
            "CGH_FUZZ_KEY_PEM": str(pem),
            "CGH_FUZZ_ISS": ISSUER,
            "CGH_FUZZ_KID": key.kid,
            "CGH_FUZZ_AUD_BASE": service.base_url,
            "CGH_FUZZ_ADMIN_TOKEN": ADMIN_TOKEN,
        }
        yield FuzzTarget(service, workdir, hooks_env)


@dataclass
class FuzzRun:
    command: list[str]
    returncode: int
    seconds: float
    #: Test cases schemathesis generated and sent (its summary's "N generated").
    cases: int
    passed: int
    failures: list[dict[str, Any]]
    output: str
    #: Per phase: status, scenarios, cases, failures, time (from the NDJSON report).
    figures: RunFigures

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.cases > 0 and self.cases == self.passed and not self.failures


def run_schemathesis(
    target: FuzzTarget,
    *,
    max_examples: int,
    seed: int,
    checks: str = ALL_CHECKS,
    phases: str = ALL_PHASES,
    workers: int = 2,
    max_time_s: float | None = None,
    name: str = "run",
    timeout_s: float = 3 * 3600,
    progress: Callable[[float, RunFigures], None] | None = None,
    progress_every_s: float = 60.0,
    include_path_regex: str | None = None,
) -> FuzzRun:
    """``st run <service>/openapi.yaml -c <checks> -n <max_examples>`` with a JWT per request.

    Schemathesis' output goes to ``<workdir>/<name>.txt`` as it runs; ``progress`` is called every
    ``progress_every_s`` with the seconds so far and the figures of the report written so far.
    """
    base_url = target.service.base_url
    events = target.workdir / f"{name}.ndjson"
    output_path = target.workdir / f"{name}.txt"
    command = [
        str(SCHEMATHESIS), "run", f"{base_url}/openapi.yaml",
        "--url", base_url,
        "--checks", checks,
        "--phases", phases,
        "--max-examples", str(max_examples),
        "--workers", str(workers),
        "--seed", str(seed),
        "--request-timeout", "15",
        "--generation-database", "none",
        "--continue-on-failure",
        "--report", "ndjson", "--report-ndjson-path", str(events),
        "--no-color",
    ]  # fmt: skip
    if max_time_s is not None:
        command += ["--max-time", str(max_time_s)]
    if include_path_regex is not None:
        command += ["--include-path-regex", include_path_regex]
    # Proxies must not see patient-shaped test data, and the loopback service is not behind one.
    env = {k: v for k, v in os.environ.items() if "PROXY" not in k.upper()} | target.env
    report = ReportFollower(events)
    started = time.monotonic()
    with output_path.open("w") as output_file:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=output_file, stderr=subprocess.STDOUT)
        try:
            while True:
                try:
                    process.wait(timeout=progress_every_s)
                    break
                except subprocess.TimeoutExpired:
                    if time.monotonic() - started > timeout_s:
                        raise
                    if progress is not None and events.exists():
                        progress(time.monotonic() - started, report.figures())
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    seconds = time.monotonic() - started
    output = output_path.read_text()
    # "N generated, N passed" on a clean run; "N generated, N found N unique failures, ..." otherwise.
    summary = re.search(r"Test cases:\s+(\d+) generated(?:, (\d+) passed)?", output)
    cases = int(summary.group(1)) if summary else 0
    passed = int(summary.group(2)) if summary and summary.group(2) else 0
    figures = report.figures() if events.exists() else figures_of([])
    return FuzzRun(command, process.returncode, seconds, cases, passed, _failures(events), output, figures)


def _failures(events: Path) -> list[dict[str, Any]]:
    """The failed checks of an NDJSON report (empty when there is no report)."""
    failures: list[dict[str, Any]] = []
    if not events.exists():
        return failures
    for line in events.read_text().splitlines():
        if '"failures"' not in line and '"Failure' not in line:
            continue
        event = json.loads(line)
        _collect(event, failures)
    return failures


def _collect(node: Any, into: list[dict[str, Any]]) -> None:
    if isinstance(node, dict):
        if "failure" in node and isinstance(node["failure"], dict):
            into.append(node["failure"])
        for value in node.values():
            _collect(value, into)
    elif isinstance(node, list):
        for value in node:
            _collect(value, into)
