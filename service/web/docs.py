"""The API contract and its browser: ``GET /openapi.yaml`` and Swagger UI at ``/docs/`` (assets shipped, no CDN).

``openapi.yaml`` (the repository's top-level file, shipped in the package: ``service.content``) is the
contract. It is parsed once, when the app is built, and served with the scenarios of ``fhir_fixtures/``
added as named request examples of the hook call, their dates rolled to the day the document is served (the
rendered document is cached for that day). The discovery response gets a generated example from the service
registry. Nothing here knows card text.
"""

from __future__ import annotations

import copy
import logging
import re
import threading
from collections.abc import Iterable
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import yaml
from flask import Blueprint
from flask import Flask
from flask import Response
from flask import current_app
from flask import request
from flask.blueprints import BlueprintSetupState
from flask_swagger_ui import get_swaggerui_blueprint

from service.content import bundles_dir as bundles_dir_of_package
from service.content import fixtures_dir as fixtures_dir_of_package
from service.content import openapi_path
from service.errors import ContentError
from service.scenarios import Scenario
from service.scenarios import load_scenario
from service.scenarios import roll_dates
from service.services import SERVICES
from service.services import discovery_document

SANDBOX_PATH = "/sandbox/evaluate/{service_id}"
DOCS_URL = "/docs"
SPEC_URL = "/openapi.yaml"
#: The hook call of each service (one operation per service, so that the contract can say which hook each
#: answers); the fixture scenarios of a service are added to its operation as examples when served.
CALL_PATHS: Mapping[str, str] = {service.id: f"/cds-services/{service.id}" for service in SERVICES}
DISCOVERY_PATH = "/cds-services"
_EXTENSION_KEY = "cgh_openapi"
_SCENARIO_NUMBER = re.compile(r"^S(\d+)$")

log = logging.getLogger("service.web")
bp = Blueprint("docs", __name__)

#: The C dumper (when PyYAML has libyaml) renders the document with all its examples several times faster.
_BaseDumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
#: libyaml's parser when present: the pure-Python one takes ~0.6 s for this document at every app start.
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _FlowMapping(dict[str, Any]):
    """A mapping written in YAML flow style (JSON-like): example requests read as what a client sends."""


class _Dumper(_BaseDumper):  # type: ignore[misc]
    pass


def _represent_flow(dumper: yaml.SafeDumper, data: _FlowMapping) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True)


_Dumper.add_representer(_FlowMapping, _represent_flow)


class OpenApiDocument:
    """``openapi.yaml`` parsed once; :meth:`render` adds the day's examples and caches the YAML for that day.

    :param spec_path: the contract file (default: the packaged one).
    :param fixtures_dir: the scenario files (default: the packaged ones); a missing folder means no request
        examples, not an error.
    :raises OSError, yaml.YAMLError, ValueError: the contract cannot be read or is not an OpenAPI document
        (the app does not start).
    """

    def __init__(
        self, spec_path: Path | None = None, fixtures_dir: Path | None = None, bundles_dir: Path | None = None
    ) -> None:
        spec_path = spec_path or openapi_path()
        base = yaml.load(spec_path.read_text(encoding="utf-8"), Loader=_SafeLoader)
        if not isinstance(base, dict) or "paths" not in base:
            raise ValueError(f"{spec_path} is not an OpenAPI document (no 'paths').")
        self._base: dict[str, Any] = base
        self._fixtures_dir = fixtures_dir or fixtures_dir_of_package()
        #: Patient data as an export holds it: the request examples of the sandbox endpoint.
        self._bundles_dir = bundles_dir or bundles_dir_of_package()
        self._lock = threading.Lock()
        self._cache: tuple[date, bytes] | None = None

    @property
    def base(self) -> Mapping[str, Any]:
        """The contract exactly as written in ``openapi.yaml`` (do not modify)."""
        return self._base

    def build(self, today: date) -> dict[str, Any]:
        """The document as served on ``today``: the contract plus the generated examples."""
        document = copy.deepcopy(self._base)
        by_service: dict[str, dict[str, Any]] = {}
        for name, example in request_examples(_scenarios(self._fixtures_dir), today).items():
            by_service.setdefault(example.pop("x-service"), {})[name] = example
        for service_id, examples in by_service.items():
            call = document["paths"][CALL_PATHS[service_id]]["post"]["requestBody"]["content"]["application/json"]
            call["examples"] = {**call.get("examples", {}), **examples}
        sandbox = document["paths"].get(SANDBOX_PATH, {}).get("post")
        bundles = bundle_examples(self._bundles_dir, today)
        if sandbox is not None and bundles:
            body = sandbox["requestBody"]["content"]["application/json"]
            body["examples"] = {**body.get("examples", {}), **bundles}
        discovery = document["paths"][DISCOVERY_PATH]["get"]["responses"]["200"]["content"]["application/json"]
        discovery["examples"] = {"services": {"summary": "The services of this server", "value": discovery_document()}}
        return document

    def render(self, today: date) -> bytes:
        """:meth:`build` as YAML, computed at most once per day."""
        with self._lock:
            if self._cache is None or self._cache[0] != today:
                text = yaml.dump(self.build(today), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)
                self._cache = (today, text.encode("utf-8"))
            return self._cache[1]


def request_examples(scenarios: Iterable[Scenario], today: date) -> dict[str, dict[str, Any]]:
    """Named OpenAPI examples of the hook call: one per scenario that answers 200 without a FHIR server.

    Scenarios needing the fixtures' FHIR server (``fhirServer`` in the request) are left out: *Try it out*
    would send them to a server that does not exist. The summary is ``<service id> · <scenario title>``;
    ``x-service`` names the service whose operation the example belongs to.
    """
    known = {service.id for service in SERVICES}
    chosen = [s for s in scenarios if s.service in known and s.expect.status == 200 and "fhirServer" not in s.request]
    chosen.sort(key=_example_order)
    examples: dict[str, dict[str, Any]] = {}
    for scenario in chosen:
        name = scenario.path.stem
        if name in examples:
            name = f"{scenario.path.parent.name}.{name}"
        rolled = scenario.rolled_to(today)
        examples[name] = {
            "summary": f"{scenario.service} · {scenario.title}",
            "description": (
                f"Send to `{scenario.service}`. Fixture `{scenario.path.parent.name}/{scenario.path.name}`, "
                f"dates moved from {scenario.reference_date.isoformat()} to {today.isoformat()}."
            ),
            "value": _FlowMapping(rolled.request),
            "x-service": scenario.service,
        }
    return examples


def bundle_examples(root: Path, today: date) -> dict[str, dict[str, Any]]:
    """Named examples of the sandbox call: each Bundle of ``root``, its dates moved from its ``timestamp`` to ``today``.

    A file that is not a Bundle with a ``timestamp`` date is logged and left out (the docs must still load).
    """
    examples: dict[str, dict[str, Any]] = {}
    for path in sorted(root.glob("*.json")) if root.is_dir() else []:
        try:
            bundle = orjson.loads(path.read_bytes())
            reference = date.fromisoformat(str(bundle["timestamp"])[:10])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("bundle skipped in the OpenAPI examples: %s (%s)", path.name, exc)
            continue
        examples[path.stem] = {
            "summary": f"{path.stem} · a {bundle.get('type')} Bundle",
            "description": (
                f"Bundle `fhir_bundles/{path.name}`, dates moved from {reference.isoformat()} to {today.isoformat()}."
            ),
            "value": _FlowMapping(roll_dates(bundle, (today - reference).days)),
        }
    return examples


def _example_order(scenario: Scenario) -> tuple[int, str, int, bool, str]:
    """Services in discovery order; numbered scenarios (S01, S02, ...) first, each before its variants."""
    order = [service.id for service in SERVICES]
    number = _SCENARIO_NUMBER.match(scenario.scenario)
    return (
        order.index(scenario.service),
        "0" if number else "1" + scenario.scenario,
        int(number.group(1)) if number else 0,
        "variant" in scenario.title.lower(),
        str(scenario.path),
    )


def _scenarios(root: Path) -> list[Scenario]:
    """Every readable scenario under ``root``; a broken file is logged and skipped (docs must still load)."""
    scenarios = []
    for path in sorted(root.rglob("*.json")) if root.is_dir() else []:
        try:
            scenarios.append(load_scenario(path))
        except ValueError as exc:
            log.warning("fixture skipped in the OpenAPI examples: %s", exc)
    return scenarios


def _document() -> OpenApiDocument:
    document: OpenApiDocument = current_app.extensions[_EXTENSION_KEY]
    return document


@bp.record_once
def _load_contract(state: BlueprintSetupState) -> None:
    # Parsed when the app is built, so a broken openapi.yaml stops start-up instead of failing a request.
    try:
        state.app.extensions[_EXTENSION_KEY] = OpenApiDocument()
    except (OSError, yaml.YAMLError, ValueError) as exc:
        raise ContentError(f"{openapi_path()}: cannot be loaded as the OpenAPI contract ({exc})") from exc


@bp.get(SPEC_URL)
def openapi_document() -> Response:
    # The web layer decides what "today" is; the examples are dated to it.
    response = Response(_document().render(date.today()), mimetype="application/yaml")
    response.headers["Cache-Control"] = "no-cache"
    response.add_etag()
    response.make_conditional(request)
    return response


def register_swagger_ui(app: Flask) -> None:
    """Serve Swagger UI at ``/docs/`` from flask-swagger-ui's bundled assets (nothing loaded from a CDN)."""
    app.register_blueprint(
        get_swaggerui_blueprint(
            DOCS_URL,
            SPEC_URL,
            config={
                "app_name": "CGH CDS Hooks service",
                # No badge from validator.swagger.io: the page must not reach out to the internet.
                "validatorUrl": None,
                "displayRequestDuration": True,
                "persistAuthorization": True,
                "docExpansion": "list",
                "defaultModelsExpandDepth": 0,
            },
        )
    )
