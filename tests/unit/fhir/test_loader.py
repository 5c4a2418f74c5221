"""Prefetch resolution and the fhirServer fallback: every case of CDS Hooks 2.0 §prefetch, against a stub."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import pytest
import requests
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from requests.adapters import BaseAdapter

from service.errors import BadRequestError
from service.errors import FhirDataUnavailableError
from service.fhir import PREFETCH_TEMPLATES
from service.fhir import load_record
from service.fhir import make_session
from service.fhir.prefetch import ESSENTIAL_KEYS
from service.fhir.record import PatientRecord
from service.fhir.request import DataRequest
from tests.unit.fhir.conftest import PATIENT_ID
from tests.unit.fhir.conftest import StubFhirServer
from tests.unit.fhir.conftest import condition
from tests.unit.fhir.conftest import patient
from tests.unit.fhir.conftest import procedure
from tests.unit.fhir.conftest import searchset

TOKEN = "secret-access-token-xyz"
CONTEXT = {"patientId": PATIENT_ID, "userId": "Practitioner/doc"}
#: A template set with two keys keeps the cases small; the full set is exercised by the integration tests.
TEMPLATES = {"patient": PREFETCH_TEMPLATES["patient"], "conditions": PREFETCH_TEMPLATES["conditions"]}


def full_prefetch() -> dict[str, Any]:
    return {"patient": patient(), "conditions": searchset(condition("c1"))}


def load(
    prefetch: Mapping[str, Any] | None,
    *,
    fhir_server: str | None = None,
    token: str | None = None,
    templates: Mapping[str, str] = TEMPLATES,
    timeout_s: float = 3.0,
    max_pages: int = 10,
    context: Any = None,
    essential: frozenset[str] = ESSENTIAL_KEYS,
) -> Any:
    request = DataRequest(
        hook="patient-view",
        context=CONTEXT if context is None else context,
        prefetch=prefetch,
        fhir_server=fhir_server,
        access_token=token,
    )
    return load_record(
        request, templates, timeout_s=timeout_s, session=make_session(), max_pages=max_pages, essential=essential
    )


def serve_everything(stub: StubFhirServer) -> None:
    stub.route(f"/fhir/Patient/{PATIENT_ID}", patient())
    stub.route("/fhir/Condition", searchset(condition("c1")))


# --- prefetch present / null / empty -------------------------------------------------------------------


def test_present_prefetch_is_used_without_any_fetch(fhir_stub: StubFhirServer) -> None:
    record = load(full_prefetch(), fhir_server=fhir_stub.base_url)
    assert record.patient is not None and record.patient.ref == f"Patient/{PATIENT_ID}"
    assert [c.ref for c in record.conditions] == ["Condition/c1"]
    assert fhir_stub.requests == []


def test_null_prefetch_means_no_data_and_no_fetch(fhir_stub: StubFhirServer) -> None:
    record = load({"patient": patient(), "conditions": None}, fhir_server=fhir_stub.base_url)
    assert record.conditions == ()
    assert fhir_stub.requests == []


def test_null_prefetch_needs_no_fhir_server() -> None:
    record = load({"patient": None, "conditions": None})
    assert record.patient is None and record.conditions == ()


def test_empty_searchset_means_no_data() -> None:
    record = load({"patient": patient(), "conditions": {"resourceType": "Bundle", "type": "searchset", "total": 0}})
    assert record.conditions == ()


def test_unexpected_prefetch_keys_are_ignored() -> None:
    prefetch = full_prefetch() | {"other": searchset(condition("c9"))}
    assert [c.ref for c in load(prefetch).conditions] == ["Condition/c1"]


# --- absent / OperationOutcome → fetch ----------------------------------------------------------------


def test_absent_prefetch_is_fetched_from_fhir_server(fhir_stub: StubFhirServer) -> None:
    serve_everything(fhir_stub)
    fetched = load(None, fhir_server=fhir_stub.base_url)
    assert fetched == load(full_prefetch())
    assert sorted(fhir_stub.paths()) == [
        f"/fhir/Condition?patient={PATIENT_ID}",
        f"/fhir/Patient/{PATIENT_ID}",
    ]


def test_only_missing_keys_are_fetched(fhir_stub: StubFhirServer) -> None:
    serve_everything(fhir_stub)
    record = load({"patient": patient()}, fhir_server=fhir_stub.base_url + "/")
    assert [c.ref for c in record.conditions] == ["Condition/c1"]
    assert [path.split("?")[0] for path in fhir_stub.paths()] == ["/fhir/Condition"]


@pytest.mark.parametrize(
    "outcome",
    [
        {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "timeout"}]},
        searchset({"resourceType": "OperationOutcome", "issue": [{"severity": "fatal", "code": "exception"}]}),
        "not a resource",
    ],
)
def test_operation_outcome_or_garbage_in_prefetch_is_fetched(fhir_stub: StubFhirServer, outcome: Any) -> None:
    serve_everything(fhir_stub)
    record = load({"patient": patient(), "conditions": outcome}, fhir_server=fhir_stub.base_url)
    assert [c.ref for c in record.conditions] == ["Condition/c1"]


def test_a_warning_outcome_beside_matches_is_data() -> None:
    bundle = searchset(condition("c1"))
    bundle["entry"].append(
        {
            "resource": {"resourceType": "OperationOutcome", "issue": [{"severity": "warning", "code": "info"}]},
            "search": {"mode": "outcome"},
        }
    )
    assert [c.ref for c in load({"patient": patient(), "conditions": bundle}).conditions] == ["Condition/c1"]


# --- headers --------------------------------------------------------------------------------------------


def test_bearer_token_and_accept_header_are_sent(fhir_stub: StubFhirServer) -> None:
    serve_everything(fhir_stub)
    load(None, fhir_server=fhir_stub.base_url, token=TOKEN)
    assert len(fhir_stub.requests) == 2
    for _, headers in fhir_stub.requests:
        assert headers["Authorization"] == f"Bearer {TOKEN}"
        assert headers["Accept"] == "application/fhir+json"


def test_no_authorization_header_without_a_token(fhir_stub: StubFhirServer) -> None:
    serve_everything(fhir_stub)
    load(None, fhir_server=fhir_stub.base_url)
    for _, headers in fhir_stub.requests:
        assert "Authorization" not in headers
        assert headers["Accept"] == "application/fhir+json"


# --- paging ---------------------------------------------------------------------------------------------


def test_next_links_of_prefetch_are_followed_on_fhir_server(fhir_stub: StubFhirServer) -> None:
    fhir_stub.route("/fhir/page2", searchset(condition("c2"), next_url=fhir_stub.base_url + "/page3"))
    fhir_stub.route("/fhir/page3", searchset(condition("c3")))
    first = searchset(condition("c1"), next_url=fhir_stub.base_url + "/page2")
    record = load({"patient": patient(), "conditions": first}, fhir_server=fhir_stub.base_url, token=TOKEN)
    assert [c.ref for c in record.conditions] == ["Condition/c1", "Condition/c2", "Condition/c3"]
    assert all(headers["Authorization"] == f"Bearer {TOKEN}" for _, headers in fhir_stub.requests)


def test_next_links_of_fetched_pages_are_followed(fhir_stub: StubFhirServer) -> None:
    fhir_stub.route(f"/fhir/Patient/{PATIENT_ID}", patient())
    fhir_stub.route("/fhir/Condition", searchset(condition("c1"), next_url="page2?x=1"))  # relative link
    fhir_stub.route("/fhir/page2", searchset(condition("c2")))
    record = load(None, fhir_server=fhir_stub.base_url)
    assert [c.ref for c in record.conditions] == ["Condition/c1", "Condition/c2"]


def test_page_cap_stops_and_notes_it(fhir_stub: StubFhirServer) -> None:
    for page in range(2, 6):
        fhir_stub.route(f"/fhir/page{page}", searchset(condition(f"c{page}"), next_url=f"page{page + 1}"))
    first = searchset(condition("c1"), next_url="page2")
    record = load({"patient": patient(), "conditions": first}, fhir_server=fhir_stub.base_url, max_pages=3)
    assert [c.ref for c in record.conditions] == ["Condition/c1", "Condition/c2", "Condition/c3"]
    assert record.notes == ("prefetch key 'conditions': read the first 3 pages only (page cap)",)
    assert len(fhir_stub.requests) == 2


def test_a_next_link_loop_ends(fhir_stub: StubFhirServer) -> None:
    fhir_stub.route("/fhir/page2", searchset(condition("c2"), next_url="page2"))
    first = searchset(condition("c1"), next_url="page2")
    record = load({"patient": patient(), "conditions": first}, fhir_server=fhir_stub.base_url)
    assert len(record.conditions) == 2
    assert len(fhir_stub.requests) == 1


def test_next_link_to_another_origin_is_refused(fhir_stub: StubFhirServer) -> None:
    first = searchset(condition("c1"), next_url="https://elsewhere.example/fhir/page2")
    with pytest.raises(FhirDataUnavailableError, match="'conditions'.*outside fhirServer's origin"):
        load({"patient": patient(), "conditions": first}, fhir_server=fhir_stub.base_url)
    assert fhir_stub.requests == []


def test_paged_prefetch_without_fhir_server_is_412() -> None:
    first = searchset(condition("c1"), next_url="https://ehr.example/fhir/page2")
    with pytest.raises(FhirDataUnavailableError, match="'conditions' has more pages"):
        load({"patient": patient(), "conditions": first})


# --- unobtainable → 412 ---------------------------------------------------------------------------------


def test_missing_key_without_fhir_server_is_412_naming_the_key() -> None:
    with pytest.raises(FhirDataUnavailableError) as caught:
        load({"patient": patient()})
    assert caught.value.status == 412
    assert caught.value.message == (
        "prefetch key 'conditions' was not provided and fhirServer is absent; "
        "send the key or a fhirServer the service can query"
    )


def test_several_missing_keys_are_all_named() -> None:
    with pytest.raises(FhirDataUnavailableError, match="prefetch keys 'patient', 'conditions' were not provided"):
        load(None)


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (401, "401 Unauthorized"),
        (403, "403 Forbidden"),
        (404, "404 Not Found"),
        (500, "500"),
        (503, "503"),
        (302, "redirect"),
    ],
)
def test_error_status_is_412_naming_the_key(fhir_stub: StubFhirServer, status: int, reason: str) -> None:
    fhir_stub.route("/fhir/Condition", {"resourceType": "OperationOutcome"}, status=status)
    with pytest.raises(FhirDataUnavailableError) as caught:
        load({"patient": patient()}, fhir_server=fhir_stub.base_url, token=TOKEN)
    assert "'conditions'" in caught.value.message and reason in caught.value.message
    assert TOKEN not in caught.value.message and PATIENT_ID not in caught.value.message


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"<html>oops</html>", "not JSON"),
        (b"[1, 2]", "not a FHIR resource"),
        (b"", "not JSON"),
        (b'{"resourceType": "OperationOutcome", "issue": []}', "OperationOutcome"),
    ],
)
def test_unusable_body_is_412(fhir_stub: StubFhirServer, raw: bytes, reason: str) -> None:
    fhir_stub.route("/fhir/Condition", raw=raw)
    with pytest.raises(FhirDataUnavailableError, match=f"'conditions'.*{reason}"):
        load({"patient": patient()}, fhir_server=fhir_stub.base_url)


def test_unreachable_server_is_412() -> None:
    with pytest.raises(FhirDataUnavailableError, match="'conditions'.*could not be reached"):
        load({"patient": patient()}, fhir_server="http://127.0.0.1:9/fhir")


def test_a_token_the_context_lacks_makes_the_key_unobtainable(fhir_stub: StubFhirServer) -> None:
    templates = {"encounter": "Encounter/{{context.encounterId}}"}
    with pytest.raises(FhirDataUnavailableError, match="'encounter'.*context.encounterId"):
        load({}, fhir_server=fhir_stub.base_url, templates=templates, essential=frozenset({"encounter"}))
    assert fhir_stub.requests == []


def test_hanging_server_gives_412_within_the_budget(fhir_stub: StubFhirServer) -> None:
    fhir_stub.route(f"/fhir/Patient/{PATIENT_ID}", patient())
    fhir_stub.route("/fhir/Condition", searchset(condition("c1")), delay_s=5.0)
    started = time.monotonic()
    with pytest.raises(FhirDataUnavailableError, match="'conditions'.*did not answer within the service's 0.5 s"):
        load(None, fhir_server=fhir_stub.base_url, timeout_s=0.5)
    assert time.monotonic() - started < 0.5 + 1.0


def test_keys_are_fetched_in_parallel(fhir_stub: StubFhirServer) -> None:
    fhir_stub.route(f"/fhir/Patient/{PATIENT_ID}", patient(), delay_s=0.6)
    fhir_stub.route("/fhir/Condition", searchset(condition("c1")), delay_s=0.6)
    started = time.monotonic()
    load(None, fhir_server=fhir_stub.base_url, timeout_s=2.0)
    assert time.monotonic() - started < 1.1


# --- fhirServer and context validation ------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://ehr.example.org/fhir",
        "ftp://127.0.0.1/fhir",
        "fhir",
        "//127.0.0.1/fhir",
        "http://127.0.0.1:99999",
        "https://user:pw@ehr.example.org/fhir",
        42,
    ],
)
def test_unacceptable_fhir_server_is_400_when_needed(url: Any) -> None:
    with pytest.raises(BadRequestError, match="fhirServer"):
        load({"patient": patient()}, fhir_server=url)


def test_fhir_server_is_not_checked_when_nothing_is_fetched() -> None:
    assert load(full_prefetch(), fhir_server="http://ehr.example.org/fhir").patient is not None


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ("not an object", "context must be a JSON object"),
        ({}, "context.patientId is required"),
        ({"patientId": 5}, "context.patientId is required"),
        ({"patientId": "p1", "draftOrders": []}, "context.draftOrders must be a FHIR Bundle"),
        ({"patientId": "p1", "draftOrders": {"entry": {}}}, "draftOrders.entry must be an array"),
        ({"patientId": "p1", "draftOrders": {"id": "x"}}, "context.draftOrders must be a FHIR Bundle"),
        ({"patientId": "p1", "selections": "MedicationRequest/1"}, "context.selections must be an array"),
    ],
)
def test_unusable_context_is_400(context: Any, message: str) -> None:
    with pytest.raises(BadRequestError, match=message):
        load(full_prefetch(), context=context)


def test_the_token_is_not_kept_in_the_request_repr() -> None:
    request = DataRequest(hook="patient-view", context=CONTEXT, access_token=TOKEN)
    assert TOKEN not in repr(request)


def test_an_essential_key_message_matches_the_contract() -> None:
    templates = {"conditions": PREFETCH_TEMPLATES["conditions"], "procedures": PREFETCH_TEMPLATES["procedures"]}
    with pytest.raises(FhirDataUnavailableError) as caught:
        load({}, templates=templates)
    assert caught.value.message == (
        "prefetch key 'conditions' was not provided and fhirServer is absent; "
        "send the key or a fhirServer the service can query"
    )


# --- optional keys (issue 16) ---------------------------------------------------------------------------


def test_an_optional_key_without_fhir_server_is_named_not_fatal() -> None:
    templates = {"conditions": PREFETCH_TEMPLATES["conditions"], "procedures": PREFETCH_TEMPLATES["procedures"]}
    record = load({"conditions": searchset(condition("c1"))}, templates=templates)
    assert [c.ref for c in record.conditions] == ["Condition/c1"]
    assert record.unavailable == ("procedures",)
    assert record.notes == (
        "prefetch key 'procedures' was not provided and fhirServer is absent; the cards were judged without it",
    )


@pytest.mark.parametrize("status", [400, 401, 403, 404, 500])
def test_an_optional_key_the_server_refuses_is_named_not_fatal(fhir_stub: StubFhirServer, status: int) -> None:
    serve_everything(fhir_stub)
    fhir_stub.route("/fhir/MedicationRequest", {"resourceType": "OperationOutcome"}, status=status)
    fhir_stub.route("/fhir/Observation", searchset())
    keys = ("patient", "conditions", "medicationrequests", "observations")
    templates = {key: PREFETCH_TEMPLATES[key] for key in keys}
    record = load(None, templates=templates, fhir_server=fhir_stub.base_url)
    assert [c.ref for c in record.conditions] == ["Condition/c1"]
    assert record.unavailable == ("medicationrequests",)
    assert len(record.notes) == 1 and record.notes[0].startswith(
        "prefetch key 'medicationrequests' was not provided and fhirServer answered"
    )
    assert str(status) in record.notes[0]


def test_an_essential_key_failing_with_an_optional_one_names_only_the_essential(fhir_stub: StubFhirServer) -> None:
    fhir_stub.route(f"/fhir/Patient/{PATIENT_ID}", patient())
    fhir_stub.route("/fhir/Condition", {"resourceType": "OperationOutcome"}, status=400)
    fhir_stub.route("/fhir/Procedure", {"resourceType": "OperationOutcome"}, status=400)
    templates = {key: PREFETCH_TEMPLATES[key] for key in ("patient", "conditions", "procedures")}
    with pytest.raises(FhirDataUnavailableError) as caught:
        load(None, templates=templates, fhir_server=fhir_stub.base_url)
    assert caught.value.message == (
        "prefetch key 'conditions' was not provided and fhirServer answered 400 Bad Request "
        "(a search or parameter it does not support)"
    )


def test_fetched_procedures_are_read(fhir_stub: StubFhirServer) -> None:
    fhir_stub.route("/fhir/Procedure", searchset(procedure("pr1"), procedure("pr2", subject="Patient/other")))
    templates = {"procedures": PREFETCH_TEMPLATES["procedures"]}
    record = load({}, templates=templates, fhir_server=fhir_stub.base_url)
    assert [p.ref for p in record.procedures] == ["Procedure/pr1"]


# --- never anything but a record, 400 or 412 ------------------------------------------------------------

_LEAF = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=10)
    | st.sampled_from(
        ["Bundle", "Patient", "Condition", "OperationOutcome", "p1", "Patient/p1", "next", "error", "2020-01-01"]
    )
)
_JSON = st.recursive(
    _LEAF,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "resourceType",
                    "id",
                    "entry",
                    "resource",
                    "link",
                    "relation",
                    "url",
                    "issue",
                    "severity",
                    "subject",
                    "reference",
                    "patientId",
                    "draftOrders",
                    "selections",
                    "x",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(
    context=_JSON | st.fixed_dictionaries({"patientId": st.just(PATIENT_ID)}, optional={"draftOrders": _JSON}),
    prefetch=st.none() | st.dictionaries(st.sampled_from(sorted(TEMPLATES) + ["other"]), _JSON, max_size=3),
    fhir_server=st.none() | st.sampled_from(["http://ehr.example/fhir", "https://127.0.0.1:9/fhir", "nonsense"]),
)
def test_load_record_only_ever_gives_a_record_400_or_412(context: Any, prefetch: Any, fhir_server: Any) -> None:
    session = make_session()
    session.mount("http://", _Refuse())
    session.mount("https://", _Refuse())
    request = DataRequest(hook="patient-view", context=context, prefetch=prefetch, fhir_server=fhir_server)
    try:
        result = load_record(request, TEMPLATES, timeout_s=1.0, session=session)
    except (BadRequestError, FhirDataUnavailableError):
        return
    assert isinstance(result, PatientRecord)


class _Refuse(BaseAdapter):
    """No network in property tests: every connection is refused."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        raise requests.ConnectionError("refused")

    def close(self) -> None:
        pass


def test_a_connection_reset_before_the_answer_is_retried_once() -> None:
    """The keep-alive race: the server drops a pooled connection as it is reused (RST before any byte of the
    answer). The GET is sent again once; a second reset is a 412 reason like any unreachable server."""
    import socket
    import struct
    import threading
    import time

    from service.fhir.client import FetchError
    from service.fhir.client import FhirClient
    from service.fhir.client import make_session

    bundle = b'{"resourceType": "Bundle", "type": "searchset", "entry": []}'
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    resets = {"left": 1}
    connections: list[int] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            connections.append(1)
            conn.recv(65536)
            if resets["left"] > 0:
                resets["left"] -= 1
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST on close
            else:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\nConnection: close\r\n"
                             + f"Content-Length: {len(bundle)}\r\n\r\n".encode() + bundle)
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{port}/fhir"
        client = FhirClient(make_session(), base, None, deadline=time.monotonic() + 5, budget_s=5)
        assert client.get_json(f"{base}/Condition?patient=p1") == {"resourceType": "Bundle", "type": "searchset",
                                                                    "entry": []}
        assert len(connections) == 2
        resets["left"] = 2
        with pytest.raises(FetchError, match="could not be reached"):
            client.get_json(f"{base}/Condition?patient=p1")
        assert len(connections) == 4
    finally:
        listener.close()


class _Slow(BaseAdapter):
    """A FHIR server that answers nothing before the budget is spent."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        time.sleep(0.6)
        raise requests.ConnectionError("too late")

    def close(self) -> None:
        pass


def test_a_fetch_no_thread_started_before_the_deadline_is_a_412(monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by schemathesis on a busy machine: a job still queued at the deadline is cancelled, and reading its
    result raised ``CancelledError`` (a 500). One worker makes the second job wait in the queue, as it did."""
    import service.fhir.loader as loader

    class OneWorker(loader.ThreadPoolExecutor):
        def __init__(self, max_workers: int | None = None, thread_name_prefix: str = "") -> None:
            super().__init__(max_workers=1, thread_name_prefix=thread_name_prefix)

    monkeypatch.setattr(loader, "ThreadPoolExecutor", OneWorker)
    session = make_session()
    session.mount("http://", _Slow())
    request = DataRequest(hook="patient-view", context=CONTEXT, prefetch=None, fhir_server="http://127.0.0.1:9/fhir")
    with pytest.raises(FhirDataUnavailableError) as excinfo:
        load_record(request, TEMPLATES, timeout_s=0.2, session=session)
    assert "'patient'" in excinfo.value.message and "'conditions'" in excinfo.value.message
