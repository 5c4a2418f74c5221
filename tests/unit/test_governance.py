"""The governance file: validated at start with an error naming the file and the field; modes resolved per client."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.config import Settings
from service.errors import ConfigError
from service.governance.modes import Governance
from service.governance.modes import Mode
from service.governance.modes import load_governance

ISS = "https://ehr.example.org"


def _write(tmp_path: Path, text: str, name: str = "governance.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_no_file_means_every_recommendation_active() -> None:
    governance = load_governance(None)
    assert governance.mode("pt-first-line", None) is Mode.ACTIVE
    assert set(governance.as_json()["site"].values()) == {"active"}


def test_site_modes_and_client_overrides_from_yaml(tmp_path: Path) -> None:
    path = _write(tmp_path, f"""
recommendations:
  pt-first-line: silent
  refractory-options: off        # YAML 1.1 reads this as false: taken as "off"
clients:
  {ISS}:
    recommendations:
      pt-first-line: active
""")
    governance = load_governance(path)
    assert governance.mode("pt-first-line", None) is Mode.SILENT
    assert governance.mode("pt-first-line", "https://other.example.org") is Mode.SILENT
    assert governance.mode("pt-first-line", ISS) is Mode.ACTIVE
    assert governance.mode("refractory-options", ISS) is Mode.OFF
    assert governance.mode("red-flags", ISS) is Mode.ACTIVE
    assert governance.source == str(path)


def test_json_is_accepted_and_equal_modes_have_equal_digests(tmp_path: Path) -> None:
    as_json = _write(tmp_path, json.dumps({"recommendations": {"pt-first-line": "silent"}}), "g.json")
    as_yaml = _write(tmp_path, "recommendations:\n  pt-first-line: silent\n  red-flags: active\n")
    assert load_governance(as_json).digest == load_governance(as_yaml).digest
    assert load_governance(as_json).digest != Governance().digest


@pytest.mark.parametrize(
    ("text", "field", "problem"),
    [
        ("recommendations:\n  pt-first-lines: silent\n", "recommendations",
         "unknown recommendation id 'pt-first-lines'"),
        ("recommendations:\n  pt-first-line: quiet\n", "recommendations.pt-first-line", "mode 'quiet' is not one of"),
        ("clients:\n  https://ehr.example.org:\n    recommendations:\n      red-flags: loud\n",
         "clients.https://ehr.example.org.recommendations.red-flags", "mode 'loud'"),
        ("recommendation:\n  pt-first-line: silent\n", "recommendation", "Unknown field"),
        ("- pt-first-line\n", "", "top level must be a mapping"),
        ("recommendations: [\n", "", "not valid YAML or JSON"),
    ],
)
def test_an_invalid_file_names_the_file_and_the_field(tmp_path: Path, text: str, field: str, problem: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_governance(path)
    message = str(raised.value)
    assert message.startswith(f"CGH_GOVERNANCE_FILE {path}:")
    assert field in message and problem in message, message


def test_the_environment_variable_must_name_an_existing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="CGH_GOVERNANCE_FILE=.*no such file"):
        Settings.from_env({"CGH_AUTH": "off", "CGH_GOVERNANCE_FILE": str(tmp_path / "missing.yaml")})
    path = _write(tmp_path, "recommendations: {}\n")
    assert Settings.from_env({"CGH_AUTH": "off", "CGH_GOVERNANCE_FILE": str(path)}).governance_path == path
