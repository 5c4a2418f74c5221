"""``openapi.yaml`` lints clean, agrees with the code's registries, and its examples match its own schemas.

Covers the file as written and the document as served (with the fixture examples of today added).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import yaml
from openapi_spec_validator import OpenAPIV31SpecValidator
from openapi_spec_validator import validate

from service import errors
from service.protocol import requests
from service.protocol.enums import Hook
from service.services import SERVICES
from service.services import get_service
from service.web.docs import CALL_PATHS
from service.web.docs import OpenApiDocument
from tests.contract.oas import OPENAPI_PATH
from tests.contract.oas import REPO_ROOT
from tests.contract.oas import schema_errors

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
SERVICE_IDS = [service.id for service in SERVICES]


def _media_examples(document: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """(where, JSON pointer of the schema, example value) for every example of a request or response body."""
    for path, item in document["paths"].items():
        for method in HTTP_METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            bodies: list[tuple[str, dict[str, Any]]] = []
            if "requestBody" in operation:
                bodies.append(("requestBody", operation["requestBody"]))
            for status, response in operation.get("responses", {}).items():
                bodies.append((f"responses/{status}", response))
            for where, body in bodies:
                if "$ref" in body:
                    ref = body["$ref"].removeprefix("#")
                    body = _resolve(document, ref)
                    where = ref
                for media_type, media in body.get("content", {}).items():
                    if "schema" not in media:
                        continue
                    pointer = _schema_pointer(path, method, where, media_type)
                    label = f"{method.upper()} {path} {where} {media_type}"
                    if "example" in media:
                        yield label, pointer, media["example"]
                    for name, example in media.get("examples", {}).items():
                        yield f"{label} example {name!r}", pointer, example["value"]


def _schema_pointer(path: str, method: str, where: str, media_type: str) -> str:
    """JSON pointer of a body's schema; ``where`` is ``requestBody``, ``responses/<status>`` or a component."""
    path_part, media_part = (part.replace("~", "~0").replace("/", "~1") for part in (path, media_type))
    if where.startswith("/components/"):
        return f"{where}/content/{media_part}/schema"
    return f"/paths/{path_part}/{method}/{where}/content/{media_part}/schema"


def _resolve(document: dict[str, Any], pointer: str) -> dict[str, Any]:
    node: Any = document
    for part in pointer.strip("/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return dict(node)


#: Paths under these need the admin token when auth is required, except the pages themselves (no data).
ADMIN_AREAS = ("/analytics/", "/preview/", "/sandbox/")


def test_contract_is_valid_openapi_3_1(contract: dict[str, Any]) -> None:
    assert contract["openapi"] == "3.1.0"
    validate(contract, cls=OpenAPIV31SpecValidator)


def test_contract_file_parses_with_a_strict_yaml_loader() -> None:
    # Duplicate keys are silently merged by most YAML loaders; make sure there are none.
    class _NoDuplicates(yaml.SafeLoader):
        pass

    def _mapping(loader: _NoDuplicates, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [loader.construct_object(key, deep=deep) for key, _ in node.value]
        duplicates = {k for k in keys if keys.count(k) > 1}
        assert not duplicates, f"duplicate keys {duplicates} at line {node.start_mark.line + 1}"
        return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)

    _NoDuplicates.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
    yaml.load(OPENAPI_PATH.read_text(encoding="utf-8"), Loader=_NoDuplicates)  # noqa: S506 (safe subclass)


def test_every_example_in_the_contract_matches_its_schema(contract: dict[str, Any]) -> None:
    examples = list(_media_examples(contract))
    assert len(examples) >= 10
    problems = [
        f"{label}: {error}" for label, pointer, value in examples for error in schema_errors(contract, pointer, value)
    ]
    assert problems == []


def test_every_operation_declares_its_security_and_an_operation_id(contract: dict[str, Any]) -> None:
    ids = []
    for path, item in contract["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                operation = item[method]
                assert "security" in operation, f"{method.upper()} {path} does not say whether it needs a token"
                ids.append(operation["operationId"])
                if path.startswith("/cds-services"):
                    assert operation["security"] == [{"cdsClientJwt": []}]
                    assert "401" in operation["responses"]
                elif path.startswith(ADMIN_AREAS) and path not in ("/analytics/", "/preview/"):
                    assert operation["security"] == [{"adminToken": []}]
                    assert "401" in operation["responses"]
                else:
                    assert operation["security"] == []
    assert len(ids) == len(set(ids))


def test_service_ids_and_hooks_match_the_registry(contract: dict[str, Any]) -> None:
    schemas = contract["components"]["schemas"]
    assert contract["components"]["parameters"]["ServiceId"]["schema"]["enum"] == SERVICE_IDS
    assert schemas["DiscoveryService"]["properties"]["id"]["enum"] == SERVICE_IDS
    hooks = [hook.value for hook in Hook]
    assert schemas["DiscoveryService"]["properties"]["hook"]["enum"] == hooks
    assert schemas["HookRequestBase"]["properties"]["hook"]["enum"] == hooks
    call_paths = sorted(
        path for path in contract["paths"] if path.startswith("/cds-services/") and path.count("/") == 2
    )
    assert call_paths == sorted(CALL_PATHS.values())
    for service in SERVICES:
        # Each service's operation takes the request of its hook, and only that hook.
        schema = contract["paths"][CALL_PATHS[service.id]]["post"]["requestBody"]["content"]["application/json"]
        request_schema = schemas[schema["schema"]["$ref"].rsplit("/", 1)[1]]
        assert request_schema["properties"]["hook"] == {"const": service.hook.value}


def test_every_error_code_of_the_service_is_documented(contract: dict[str, Any]) -> None:
    codes = {
        cls.code for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, errors.CdsServiceError)
    }
    codes |= {"wrong-hook", "not-found"}
    documented = contract["components"]["schemas"]["Error"]["description"]
    assert sorted(code for code in codes if f"`{code}`" not in documented) == []
    client_errors = {
        cls
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.CdsServiceError) and cls.status < 500
    }
    # Only the sandbox builds a hook request from data the caller sent; a hook call is never a 422.
    sandbox_only = {errors.UnprocessableDataError}
    statuses = {cls.status for cls in client_errors - sandbox_only}
    # 404 is an unknown service id: feedback has the id as a parameter; the calls are one path per service.
    feedback_responses = contract["paths"]["/cds-services/{service_id}/feedback"]["post"]["responses"]
    for path in CALL_PATHS.values():
        call_responses = {**contract["paths"][path]["post"]["responses"], "404": feedback_responses["404"]}
        assert sorted(str(status) for status in statuses if str(status) not in call_responses) == []
    sandbox_responses = contract["paths"]["/sandbox/evaluate/{service_id}"]["post"]["responses"]
    assert sorted(str(cls.status) for cls in client_errors if str(cls.status) not in sandbox_responses) == []


def test_contract_copies_no_card_text() -> None:
    """Card wording lives in ``cards/`` only (duplicated card text drifts apart)."""
    contract_text = " ".join(OPENAPI_PATH.read_text(encoding="utf-8").split())
    copied = []
    for card_file in sorted((REPO_ROOT / "cards").glob("*.yaml")):
        for text in _strings(yaml.safe_load(card_file.read_text(encoding="utf-8"))):
            sentence = " ".join(text.split())
            if sentence.startswith(("http://", "https://")):
                continue  # a URL (e.g. our CodeSystems, service.canonical) is an identifier, not wording
            if len(sentence) >= 40 and sentence in contract_text:
                copied.append(f"{card_file.name}: {sentence[:60]}")
    assert copied == []


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


# ------------------------------------------------------------------------------- the document as served


@pytest.fixture(scope="module")
def served() -> dict[str, Any]:
    return OpenApiDocument().build(date.today())


def test_served_document_is_valid_openapi_3_1(served: dict[str, Any]) -> None:
    validate(served, cls=OpenAPIV31SpecValidator)


def test_served_document_survives_its_yaml_rendering() -> None:
    document = OpenApiDocument()
    rendered = yaml.load(document.render(date.today()), Loader=yaml.CSafeLoader)
    assert rendered == document.build(date.today())


def _call_examples(served: dict[str, Any], service_id: str) -> dict[str, Any]:
    content = served["paths"][CALL_PATHS[service_id]]["post"]["requestBody"]["content"]["application/json"]
    examples: dict[str, Any] = content["examples"]
    return examples


def test_served_document_has_fixture_examples_for_every_service(served: dict[str, Any]) -> None:
    for service_id in SERVICE_IDS:
        examples = _call_examples(served, service_id)
        for name, example in examples.items():
            summary_service, _, title = example["summary"].partition(" · ")
            assert title, f"example {name} has no fixture title in its summary"
            assert summary_service == service_id, name
            assert example["value"]["hook"] == get_service(service_id).hook.value, name
        # The default example Swagger UI shows first is the plain happy path of the service.
        first = next(iter(examples.values()))
        assert first["summary"].startswith(f"{service_id} · S"), first["summary"]
    first = next(iter(_call_examples(served, SERVICE_IDS[0]).values()))
    assert first["summary"].startswith(f"{SERVICE_IDS[0]} · S01")


def test_served_examples_are_valid_requests_dated_today(served: dict[str, Any]) -> None:
    examples = {name: e for service_id in SERVICE_IDS for name, e in _call_examples(served, service_id).items()}
    problems = [
        f"{label}: {error}"
        for label, pointer, value in _media_examples(served)
        for error in schema_errors(served, pointer, value)
    ]
    assert problems == []
    today = date.today().isoformat()
    dated_today = [name for name, example in examples.items() if today in example["description"]]
    assert len(dated_today) == len(examples)


def test_served_discovery_example_is_the_registry(served: dict[str, Any]) -> None:
    content = served["paths"]["/cds-services"]["get"]["responses"]["200"]["content"]["application/json"]
    services = content["examples"]["services"]["value"]["services"]
    assert [service["id"] for service in services] == SERVICE_IDS


def test_contract_states_the_patterns_and_limits_the_service_enforces(contract: dict[str, Any]) -> None:
    """The service's parser and the contract use the same patterns and limits (``service.protocol.requests``)."""
    schemas = contract["components"]["schemas"]
    base = schemas["HookRequestBase"]["properties"]
    assert (base["fhirServer"]["format"], base["fhirServer"]["pattern"], base["fhirServer"]["maxLength"]) == (
        "uri",
        requests.FHIR_SERVER_PATTERN,
        requests.FHIR_SERVER_MAX_LENGTH,
    )
    assert (base["hookInstance"]["pattern"], base["hookInstance"]["maxLength"]) == (
        requests.TEXT_PATTERN,
        requests.ID_MAX_LENGTH,
    )
    token = schemas["FhirAuthorization"]["properties"]["access_token"]
    assert (token["pattern"], token["maxLength"]) == (requests.ACCESS_TOKEN_PATTERN, requests.ACCESS_TOKEN_MAX_LENGTH)
    context = schemas["ContextBase"]["properties"]
    assert context["userId"]["pattern"] == requests.REFERENCE_PATTERN
    assert context["patientId"]["pattern"] == context["encounterId"]["pattern"] == requests.FHIR_ID_PATTERN
    selections = schemas["OrderSelectContext"]["allOf"][1]["properties"]["selections"]["items"]
    assert selections["pattern"] == requests.REFERENCE_PATTERN
    item = schemas["FeedbackItem"]["properties"]
    reason = item["overrideReason"]["properties"]["reason"]["properties"]
    comment = item["overrideReason"]["properties"]["userComment"]
    assert (reason["system"]["maxLength"], comment["maxLength"]) == (
        requests.SYSTEM_MAX_LENGTH,
        requests.COMMENT_MAX_LENGTH,
    )
    texts = [item["card"], item["acceptedSuggestions"]["items"]["properties"]["id"], reason["code"], reason["system"]]
    assert {text["pattern"] for text in [*texts, comment]} == {requests.TEXT_PATTERN}
    assert item["outcomeTimestamp"]["anyOf"] == [{"format": "date-time"}, {"format": "date"}]


@pytest.mark.parametrize(
    "url",
    ["https://ehr]example.org/fhir", "http://[::1", "HTTP://0", "https://ehr.example.org:99999", "https://a b"],
)
def test_contract_refuses_the_fhir_servers_the_service_refuses(contract: dict[str, Any], url: str) -> None:
    pointer = "/components/schemas/HookRequestBase/properties/fhirServer"
    assert schema_errors(contract, pointer, url) != []
