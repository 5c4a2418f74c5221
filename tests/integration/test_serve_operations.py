"""``cgh-cds serve`` as operations see it: every log line (app and gunicorn) is JSON in one format, the access
line carries the request id, no control socket is left in the home folder, and /readyz reports the content
that was loaded."""

from __future__ import annotations

import json
from pathlib import Path

import requests

from service.content import cards_dir
from service.content import digest
from service.content import value_sets_dir
from service.pathway.terminology import all_value_sets
from service.render import load_card_library
from tests.servers import running_service


def test_logs_are_json_the_access_line_names_the_request_and_no_control_socket(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    # gunicorn's default control socket is $XDG_RUNTIME_DIR/gunicorn.ctl or ~/.gunicorn/gunicorn.ctl.
    env = {"HOME": str(home), "XDG_RUNTIME_DIR": str(home)}
    with running_service(tmp_path, env, workers=1) as service:
        response = requests.get(f"{service.base_url}/cds-services", headers={"X-Request-ID": "ops-test-1"},
                                timeout=10)
        assert response.status_code == 200
        ready = requests.get(f"{service.base_url}/readyz", timeout=10).json()
        assert not list(home.rglob("*.ctl")) and not (home / ".gunicorn").exists()
    lines = [line for line in service.log().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # fails on any line that is not JSON
    assert all({"asctime", "levelname", "name", "message"} <= record.keys() for record in records)
    names = {record["name"] for record in records}
    assert {"gunicorn.error", "gunicorn.access"} <= names
    (access,) = [r for r in records if r["name"] == "gunicorn.access" and r.get("request_id") == "ops-test-1"]
    assert access["method"] == "GET" and access["path"] == "/cds-services" and access["status"] == 200
    assert access["duration_ms"] >= 0

    checks = ready["checks"]
    assert checks["content"] == "ok"
    assert checks["recommendations"] == len(load_card_library(cards_dir()))
    assert checks["value_sets"] == len(all_value_sets())
    assert checks["content_digest"] == digest(cards_dir(), value_sets_dir())
