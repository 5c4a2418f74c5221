"""deploy/kubernetes/ validates offline against the Kubernetes schemas (kubernetes-validate ships them) for
the oldest and newest versions we support, and its parts fit together: probes, resources, selectors, the
Secret and ConfigMap the pods read, the migration Job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from service.config import Settings
from tests.conftest import REPO_ROOT

FOLDER = REPO_ROOT / "deploy" / "kubernetes"
MANIFESTS = sorted(p for p in FOLDER.glob("*.yaml") if p.name != "kustomization.yaml")
#: Oldest Kubernetes still in wide hospital use that we support, and the newest the schemas cover.
VERSIONS = ["1.28.0", "1.37.0"]


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _by_kind() -> dict[str, dict[str, Any]]:
    resources = [doc for path in MANIFESTS for doc in _documents(path)]
    kinds = {doc["kind"]: doc for doc in resources}
    assert len(kinds) == len(resources), "one resource per kind"
    return kinds


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_validates_strictly_against_the_kubernetes_schema(path: Path, version: str) -> None:
    for document in _documents(path):
        kubernetes_validate.validate(document, version, strict=True)


def test_the_validation_rejects_a_wrong_manifest() -> None:
    deployment = _by_kind()["Deployment"]
    broken = {**deployment, "spec": {**deployment["spec"], "replicas": "two", "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[-1], strict=True)


def test_kustomization_applies_everything_but_the_secret_template_and_the_job() -> None:
    listed = set(yaml.safe_load((FOLDER / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in MANIFESTS} - {"secret.example.yaml", "migration-job.yaml"}


def test_the_deployment_probes_limits_and_stops_gracefully() -> None:
    kinds = _by_kind()
    pod = kinds["Deployment"]["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
    assert {"cpu", "memory"} <= container["resources"]["limits"].keys()
    # The drain is the service's own (/readyz turns 503 first on SIGTERM): it must outlast the readiness probe's
    # failure window, and the grace period must cover drain + graceful timeout.
    config = kinds["ConfigMap"]["data"]
    probe = container["readinessProbe"]
    assert float(config["CGH_DRAIN_S"]) >= probe["periodSeconds"] * probe["failureThreshold"]
    assert pod["spec"]["terminationGracePeriodSeconds"] > float(config["CGH_DRAIN_S"]) + float(
        config["CGH_GRACEFUL_TIMEOUT_S"]
    )
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    # Workers fixed to the CPU limit, not the node's core count.
    assert container["args"][:2] == ["cgh-cds", "serve"] and "--workers" in container["args"]


def test_selectors_and_references_agree() -> None:
    kinds = _by_kind()
    deployment = kinds["Deployment"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert kinds["Service"]["spec"]["selector"].items() <= labels.items()
    assert kinds["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert kinds["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    backend = kinds["Ingress"]["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == kinds["Service"]["metadata"]["name"]
    minimum = kinds["HorizontalPodAutoscaler"]["spec"]["minReplicas"]
    assert kinds["PodDisruptionBudget"]["spec"]["minAvailable"] < minimum


def test_config_and_secrets_feed_valid_settings() -> None:
    kinds = _by_kind()
    config = kinds["ConfigMap"]["data"]
    secret = kinds["Secret"]["stringData"]
    (container,) = kinds["Deployment"]["spec"]["template"]["spec"]["containers"]
    from_secret = {env["name"]: env["valueFrom"]["secretKeyRef"]["key"] for env in container["env"]
                   if "valueFrom" in env}
    assert set(from_secret.values()) <= secret.keys()
    assert not {"CGH_DATABASE_URL", "CGH_AUDIT_KEY", "CGH_ADMIN_TOKEN"} & config.keys(), "secrets only in the Secret"
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert config["CGH_TRUSTED_CLIENTS"].startswith(mounts["trusted-clients"] + "/")
    assert config["CGH_AUTH"] == "required"
    environment = {**config, **{name: secret[key] for name, key in from_secret.items()}}
    environment["CGH_TRUSTED_CLIENTS"] = str(REPO_ROOT / "config" / "trusted-clients.sandbox.json")
    settings = Settings.from_env(environment)  # every CGH_* value the pods get is one the service accepts
    settings.validate()
    assert settings.database_url.startswith("postgresql")


def test_the_migration_job_upgrades_the_database_before_the_replicas() -> None:
    job = _by_kind()["Job"]
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["cgh-cds", "db", "upgrade"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert container["image"] == _by_kind()["Deployment"]["spec"]["template"]["spec"]["containers"][0]["image"]
