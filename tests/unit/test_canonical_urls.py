"""One spelling of our canonical base (service.canonical.BASE) across the repository's tracked files."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from service import canonical
from service.render import OVERRIDE_REASON_SYSTEM
from service.render import RECOMMENDATION_SYSTEM
from service.render import load_card_library

ROOT = Path(__file__).resolve().parents[2]
_HOST = re.escape(canonical.BASE.split("://", 1)[1].split("/", 1)[0])
#: Any URL on our host, or a FHIR CodeSystem/ValueSet/StructureDefinition on the bare example.org host (another
#: party's host, e.g. an EHR's ehr.example.org local code system, is theirs to name).
_OURS = re.compile(
    r"[A-Za-z][A-Za-z0-9+.-]*://(?:" + _HOST + r"|example\.org/fhir/(?:CodeSystem|ValueSet|StructureDefinition)/)"
    r"[^\s\"'<>`)]*"
)
_SKIPPED_PARTS = frozenset({".git", ".venv", "node_modules", "instance", "__pycache__", ".mypy_cache", ".ruff_cache"})
#: Third-party data kept as published (its own example URLs are the FHIR project's, not ours).
_THIRD_PARTY = ("tests/data/realworld/",)


def _tracked_files() -> list[Path]:
    git = shutil.which("git")
    if git is not None and (ROOT / ".git").exists():
        listed = subprocess.run([git, "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
        return [ROOT / name for name in listed.decode().split("\0") if name]
    # An unpacked source tree without git: every file outside the caches and environments.
    return [p for p in ROOT.rglob("*") if p.is_file() and not _SKIPPED_PARTS & set(p.relative_to(ROOT).parts)]


def off_base_spellings(text: str) -> list[str]:
    """URLs in ``text`` that name our host or a FHIR definition on an example.org host, but not as BASE/..."""
    return [url for url in _OURS.findall(text) if not (url == canonical.BASE or url.startswith(canonical.BASE + "/"))]


def test_the_checker_finds_other_spellings() -> None:
    host = canonical.BASE.split("://", 1)[1].split("/", 1)[0]
    assert off_base_spellings(f"url: https://{host}/fhir/CodeSystem/recommendation") != []
    assert off_base_spellings(f"system: http://{host}/CodeSystem/x") != []
    other_host = "example.org"  # assembled here so this file does not hold the spelling it looks for
    assert off_base_spellings(f"system: https://{other_host}/fhir/CodeSystem/override-reason") != []
    assert off_base_spellings(f'"url": "{canonical.extension("code-confidence")}"') == []
    assert off_base_spellings("https://ehr.example.org/fhir/Patient/p1") == []
    assert off_base_spellings("http://ehr.example.org/fhir/CodeSystem/formulary") == []


def test_no_other_spelling_of_our_base_in_tracked_files() -> None:
    offenders = []
    for path in _tracked_files():
        if not path.is_file():
            continue  # deleted in the working tree but still in the index
        if str(path.relative_to(ROOT)).startswith(_THIRD_PARTY):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        offenders.extend(f"{path.relative_to(ROOT)}: {url}" for url in sorted(set(off_base_spellings(text))))
    assert not offenders, f"use service.canonical ({canonical.BASE}/...):\n" + "\n".join(offenders)


@pytest.mark.parametrize(
    ("minted", "expected"),
    [
        (RECOMMENDATION_SYSTEM, canonical.RECOMMENDATION_SYSTEM),
        (OVERRIDE_REASON_SYSTEM, canonical.OVERRIDE_REASON_SYSTEM),
    ],
)
def test_card_code_systems_come_from_the_canonical_module(minted: str, expected: str) -> None:
    assert minted == expected
    assert minted.startswith(canonical.CODE_SYSTEM_BASE)


def test_cards_codesystems_file_uses_the_canonical_urls() -> None:
    library = load_card_library(ROOT / "cards")
    assert library.recommendation_system == canonical.RECOMMENDATION_SYSTEM
    assert library.override_reason_system == canonical.OVERRIDE_REASON_SYSTEM
