"""The wheel is the product: built from this checkout, installed from the lock into a fresh venv outside the
repository, it checks its content, answers a hook call over HTTP and evaluates a fixture it ships.

Nothing here may reach into the checkout after the build: the commands run from a folder outside it, with a
clean environment, so a file the package fails to ship fails these tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from dataclasses import dataclass
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
import requests

from service.content import PACKAGED_ITEMS
from service.scenarios import Scenario
from service.scenarios import check_response
from service.scenarios import iter_scenarios
from service.scenarios import load_scenario
from tests.conftest import FIXTURES_DIR
from tests.conftest import REPO_ROOT
from tests.servers import running_service

pytestmark = [pytest.mark.integration, pytest.mark.packaging]


def _pt_first_line() -> Scenario:
    """A scenario (other engineers add and rename them) whose answer holds the pt-first-line card."""
    return next(s for s in iter_scenarios(FIXTURES_DIR) if not s.server_resources and s.expect.status == 200
                and any(card.recommendation == "pt-first-line" for card in s.expect.cards))


@dataclass(frozen=True)
class Installed:
    wheel: Path
    python: Path
    cli: Path
    outside: Path  # a working folder outside the repository

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CGH_", "PYTHON"))}
        env["CGH_INSTANCE_PATH"] = str(self.outside / "instance")
        result = subprocess.run([str(self.cli), *args], cwd=self.outside, env=env, capture_output=True, text=True,
                                timeout=180)
        if check:
            assert result.returncode == 0, result.stdout + result.stderr
        return result


def _run(*command: str | Path, cwd: Path) -> None:
    result = subprocess.run([str(part) for part in command], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{command}:\n{result.stdout}\n{result.stderr}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    work = tmp_path_factory.mktemp("wheel-product")
    assert not work.resolve().is_relative_to(REPO_ROOT.resolve())
    _run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", work / "dist", REPO_ROOT, cwd=work)
    (wheel,) = sorted((work / "dist").glob("cgh_cds-*.whl"))
    venv.create(work / "venv", with_pip=True)
    python = work / "venv" / "bin" / "python"
    # As the Dockerfile does: the locked dependencies (hash-checked), then the product alone.
    _run(python, "-m", "pip", "install", "--quiet", "--require-hashes", "-r",
         REPO_ROOT / "requirements" / "runtime.lock", cwd=work)
    _run(python, "-m", "pip", "install", "--quiet", "--no-deps", wheel, cwd=work)
    outside = work / "elsewhere"
    outside.mkdir()
    return Installed(wheel, python, work / "venv" / "bin" / "cgh-cds", outside)


def _tree(folder: Path) -> set[str]:
    ignored = {"__pycache__"}
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")
            if p.is_file() and not ignored & set(p.parts) and not p.name.startswith(".")}


def test_the_wheel_ships_every_content_file_of_the_top_level_folders(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as archive:
        names = set(archive.namelist())
    for item in PACKAGED_ITEMS:
        source = REPO_ROOT / item
        expected = {item} if source.is_file() else {f"{item}/{name}" for name in _tree(source)}
        shipped = {n.removeprefix("service/_content/") for n in names if n.startswith(f"service/_content/{item}")}
        assert expected and shipped == expected, item
    assert "service/pathway/valuesets/red-flags.json" in names
    assert "service/web/templates/analytics.html" in names
    assert not any(n.startswith(("tests/", "cards/", "fhir_fixtures/")) for n in names)


def test_content_is_found_through_the_installed_package(installed: Installed) -> None:
    located = subprocess.run(
        [str(installed.python), "-c", "from service.content import cards_dir, fixtures_dir, openapi_path;"
         "print(cards_dir()); print(fixtures_dir()); print(openapi_path())"],
        cwd=installed.outside, capture_output=True, text=True, check=True,
    ).stdout.split()
    site_packages = installed.python.parent.parent / "lib"
    for path in map(Path, located):
        assert path.exists() and path.is_relative_to(site_packages), path


def test_check_validates_the_packaged_content(installed: Installed) -> None:
    output = installed.run("check").stdout
    cards = len([p for p in (REPO_ROOT / "cards").glob("*.yaml") if not p.name.startswith("_")])
    scenarios = len(list(iter_scenarios(FIXTURES_DIR)))
    assert f"cards: {cards} recommendation definitions valid" in output
    assert f"fixtures: {scenarios} scenarios load" in output
    assert "openapi.yaml: valid OpenAPI" in output


def test_evaluate_a_packaged_fixture(installed: Installed) -> None:
    fixtures = installed.python.parent.parent.glob("lib/python*/site-packages/service/_content/fhir_fixtures")
    (packaged,) = list(fixtures)
    scenario = _pt_first_line()
    fixture = packaged / scenario.path.relative_to(FIXTURES_DIR)
    assert load_scenario(fixture) == replace(scenario, path=fixture)  # the same file, shipped
    result = installed.run("evaluate", str(fixture), "--today", scenario.reference_date.isoformat())
    assert "expectation: PASS" in result.stdout
    assert "pt-first-line" in result.stdout
    # The same fixture by its name among the packaged ones (no such path in the working folder).
    by_name = installed.run("evaluate", scenario.path.relative_to(FIXTURES_DIR).as_posix(),
                            "--today", scenario.reference_date.isoformat())
    assert "expectation: PASS" in by_name.stdout and str(packaged) in by_name.stdout


def test_serve_answers_a_hook_call_with_the_right_card(installed: Installed, tmp_path: Path) -> None:
    original = _pt_first_line()
    scenario = original.rolled_to(date.today())
    with running_service(tmp_path, workers=1, cli=installed.cli, cwd=installed.outside) as service:
        response = requests.post(f"{service.base_url}/cds-services/{scenario.service}", json=scenario.request,
                                 timeout=10)
        body = response.json()
        assert check_response(scenario, response.status_code, body) == []
        assert "pt-first-line" in [card["source"]["topic"]["code"] for card in body["cards"]]
        # Swagger's examples come from the packaged fixtures.
        assert original.path.stem in requests.get(f"{service.base_url}/openapi.yaml", timeout=10).text
