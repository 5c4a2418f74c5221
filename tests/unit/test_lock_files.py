"""The lock files are in step with pyproject.toml: every declared requirement is pinned at a version its range
allows, every pin carries hashes, and the runtime lock is the dev lock's subset at the same versions.
(A change to pyproject.toml without `scripts/lock` fails here.)"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import REPO_ROOT

LOCKS = REPO_ROOT / "requirements"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)(.*)$")


def _pins(path: Path) -> dict[str, tuple[str, int]]:
    """Package -> (version, number of hashes) of a `uv pip compile --generate-hashes` file."""
    pins: dict[str, tuple[str, int]] = {}
    current = None
    for line in path.read_text().splitlines():
        match = _PIN.match(line)
        if match:
            current = canonicalize_name(match.group(1))
            pins[current] = (match.group(2), 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
    return pins


def _declared(*extras: str) -> list[Requirement]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    names = project["optional-dependencies"] if extras == ("*",) else {e: None for e in extras}
    requirements = [Requirement(r) for r in project["dependencies"]]
    for extra in names:
        requirements += [Requirement(r) for r in project["optional-dependencies"][extra]]
    return requirements


@pytest.mark.parametrize(("lock", "extras"), [("dev.lock", ("*",)), ("runtime.lock", ("server", "postgres"))])
def test_every_declared_requirement_is_pinned_within_its_range(lock: str, extras: tuple[str, ...]) -> None:
    pins = _pins(LOCKS / lock)
    environment = {**default_environment(), "python_version": "3.11", "python_full_version": "3.11.7"}
    for requirement in _declared(*extras):
        if requirement.marker and not requirement.marker.evaluate(environment):
            continue
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is not in requirements/{lock}: run scripts/lock"
        assert requirement.specifier.contains(pins[name][0], prereleases=True), (
            f"requirements/{lock} pins {name}=={pins[name][0]} outside {requirement}: run scripts/lock"
        )


@pytest.mark.parametrize("lock", ["dev.lock", "runtime.lock"])
def test_every_pin_has_hashes(lock: str) -> None:
    pins = _pins(LOCKS / lock)
    assert len(pins) > 20
    assert [name for name, (_, hashes) in pins.items() if hashes == 0] == []


def test_the_runtime_lock_is_the_dev_lock_at_the_same_versions() -> None:
    dev, runtime = _pins(LOCKS / "dev.lock"), _pins(LOCKS / "runtime.lock")
    assert {name: version for name, (version, _) in runtime.items()} == {
        name: dev[name][0] for name in runtime
    }


@pytest.mark.parametrize(("user", "lock"), [("scripts/bootstrap", "requirements/runtime.lock"),
                                            ("scripts/bootstrap", "requirements/dev.lock"),
                                            ("Dockerfile", "requirements/runtime.lock")])
def test_installs_go_through_the_lock(user: str, lock: str) -> None:
    text = (REPO_ROOT / user).read_text()
    assert lock in text and "--require-hashes" in text
