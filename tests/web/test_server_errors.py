"""A 5xx is our fault: logged at ERROR with its traceback and the request id; the client gets a generic
message quoting that id, never the internal message."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from service import create_app
from service.config import AuthMode
from service.config import Settings
from service.errors import CdsServiceError
from service.errors import StoreUnavailableError

SECRET = "postgresql://cgh:hunter2@db.internal/cgh"


@pytest.fixture
def faulty_app(tmp_path: Path) -> Iterator[Flask]:
    # testing=False: errors are answered as in production instead of propagating to the test.
    app = create_app(Settings(auth=AuthMode.OFF, database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}",
                              instance_path=tmp_path, audit_key="k", testing=False))

    @app.get("/fault/unexpected")
    def unexpected() -> str:
        raise RuntimeError(f"could not connect to {SECRET}")

    @app.get("/fault/service")
    def service_fault() -> str:
        raise CdsServiceError(f"internal detail: {SECRET}")

    @app.get("/fault/store")
    def store_fault() -> str:
        raise StoreUnavailableError(f"database {SECRET} unreachable")

    yield app
    runtime = app.extensions["cgh_runtime"]
    runtime.audit.close()
    runtime.store.dispose()


@pytest.fixture
def web_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    logger = logging.getLogger("service.web")  # the service's loggers do not propagate to the root
    logger.addHandler(caplog.handler)
    yield caplog
    logger.removeHandler(caplog.handler)


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [("/fault/unexpected", 500, "internal-error"), ("/fault/service", 500, "internal-error"),
     ("/fault/store", 503, "store-unavailable")],
)
def test_a_server_fault_is_logged_with_traceback_and_answered_generically(
    faulty_app: Flask, web_log: pytest.LogCaptureFixture, path: str, status: int, code: str
) -> None:
    response = faulty_app.test_client().get(path, headers={"X-Request-ID": "req-4242"})
    assert response.status_code == status
    body = response.get_json()
    assert body["error"] == code
    assert "req-4242" in body["message"] and SECRET not in response.get_data(as_text=True)
    assert response.headers["X-Request-ID"] == "req-4242"
    # Unique records: with the root logger's capture as well, a record can be collected twice.
    (record,) = {id(r): r for r in web_log.records if r.levelno >= logging.ERROR}.values()
    assert record.levelname == "ERROR" and record.exc_info is not None
    assert record.request_id == "req-4242"
    assert SECRET in web_log.text  # the log keeps the detail the client does not get


def test_without_a_supplied_id_the_generated_one_is_quoted(faulty_app: Flask) -> None:
    response = faulty_app.test_client().get("/fault/unexpected")
    request_id = response.headers["X-Request-ID"]
    assert len(request_id) == 32 and request_id in response.get_json()["message"]


def test_a_client_error_keeps_its_helpful_message(faulty_app: Flask, web_log: pytest.LogCaptureFixture) -> None:
    response = faulty_app.test_client().post("/cds-services/cgh-patient-view", data=b"{",
                                             content_type="application/json")
    assert response.status_code == 400 and "fault is ours" not in response.get_json()["message"]
    assert not [r for r in web_log.records if r.levelno >= logging.ERROR]
