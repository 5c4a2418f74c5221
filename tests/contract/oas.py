"""The contract under test: ``openapi.yaml`` loaded as written, JSON Schema validators for its components, and the
app built the way a developer runs it locally (``CGH_AUTH=off``, SQLite in a temporary folder).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from flask import Flask
from openapi_schema_validator import OAS31Validator
from referencing import Registry
from referencing import Resource
from referencing.jsonschema import DRAFT202012

from service import create_app
from service.config import AuthMode
from service.config import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
OPENAPI_PATH = REPO_ROOT / "openapi.yaml"
FIXTURES_DIR = REPO_ROOT / "fhir_fixtures"
_CONTRACT_URI = "urn:cgh-cds:openapi"


def load_contract() -> dict[str, Any]:
    """``openapi.yaml`` as written (without the examples added when it is served)."""
    document: dict[str, Any] = yaml.safe_load(OPENAPI_PATH.read_text(encoding="utf-8"))
    return document


def schema_validator(document: dict[str, Any], pointer: str) -> OAS31Validator:
    """A validator for the schema at JSON pointer ``pointer`` of ``document`` (``$ref``s resolved in it).

    Formats are checked (``uuid``, ``uri``), as a strict client would.
    """
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(_CONTRACT_URI, resource)
    return OAS31Validator(
        {"$ref": f"{_CONTRACT_URI}#{pointer}"},
        registry=registry,
        format_checker=OAS31Validator.FORMAT_CHECKER,
    )


def schema_errors(document: dict[str, Any], pointer: str, instance: Any) -> list[str]:
    """Every way ``instance`` fails the schema at ``pointer``, as ``path: message`` lines (empty: valid)."""
    validator = schema_validator(document, pointer)
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '$'}: {error.message}"
        for error in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))
    ]


def build_app(tmp_path: Path, **overrides: Any) -> Flask:
    """The app with authentication off and its own SQLite database, as ``CGH_AUTH=off cgh-cds serve`` runs it."""
    settings = Settings(
        auth=AuthMode.OFF,
        database_url=f"sqlite:///{tmp_path}/t.sqlite3",
        testing=True,
        instance_path=tmp_path,
    ).with_overrides(**overrides)
    return create_app(settings)
