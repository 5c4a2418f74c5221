"""The repository stands alone: no tracked file reads or cites anything outside it (the authors' internal
workspace folder beside the checkout), and the clinical documents the code cites are in ``docs/clinical/``.

Every tracked text file is scanned, except this one (it must name the documents it looks for).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

#: Where the bare names are the documents themselves (relative links between them).
CLINICAL_DOCS = "docs/clinical/"
#: The name of the authors' internal workspace folder that sits beside the checkout (never part of the product).
WORKSPACE_FOLDER = "shared"
#: A path outside the repository into that folder, or to the internal documents that stayed behind in it.
OUTSIDE = re.compile(
    rf"\.\./{WORKSPACE_FOLDER}|(?<![\w-]){WORKSPACE_FOLDER}/(?:clinical|realworld|cds-hooks|DESIGN|STYLE)"
    rf"|\"{WORKSPACE_FOLDER}\"\s*/"
)
#: A clinical document cited by its bare name (it must be cited as docs/clinical/<name>), or an internal one.
BARE_CITATION = re.compile(r"(?<![\w/.-])(?:reference|recommendations|revision-2|pathway|spec|DESIGN|STYLE)\.md")
CLINICAL = ("pathway.md", "reference.md", "recommendations.md", "revision-2.md")


def _tracked_text_files() -> list[str]:
    try:
        listed = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
        names = listed.stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):  # an exported tree without git: scan what is there
        skipped = {".git", ".venv", "node_modules", "__pycache__", ".mypy_cache", ".ruff_cache", "instance"}
        names = [p.relative_to(REPO_ROOT).as_posix() for p in REPO_ROOT.rglob("*")
                 if p.is_file() and not skipped & set(p.relative_to(REPO_ROOT).parts)]
    this = Path(__file__).resolve().relative_to(REPO_ROOT).as_posix()
    return [n for n in names if n != this and (REPO_ROOT / n).is_file()
            and not n.endswith((".png", ".ico", ".whl", ".gz"))]


def _offences(pattern: re.Pattern[str], skip: tuple[str, ...] = ()) -> list[str]:
    found = []
    for name in _tracked_text_files():
        if skip and name.startswith(skip):
            continue
        try:
            text = (REPO_ROOT / name).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        found += [f"{name}:{number}: {line.strip()[:100]}" for number, line in enumerate(text.splitlines(), 1)
                  if pattern.search(line)]
    return found


def test_nothing_reads_or_cites_the_shared_folder_outside_the_repository() -> None:
    assert _offences(OUTSIDE) == []


def test_clinical_documents_are_cited_by_their_path_in_the_repository() -> None:
    assert _offences(BARE_CITATION, (CLINICAL_DOCS,)) == []


@pytest.mark.parametrize("name", CLINICAL)
def test_the_clinical_documents_are_in_the_repository(name: str) -> None:
    assert (REPO_ROOT / CLINICAL_DOCS / name).stat().st_size > 2000


def test_reference_keeps_the_section_numbers_the_code_cites() -> None:
    """Citations like "docs/clinical/reference.md §2.6" must land on the section of that number."""
    headings = set(re.findall(r"^#{2,3} (\d(?:\.\d)?)\.? ", (REPO_ROOT / CLINICAL_DOCS / "reference.md").read_text(),
                              re.M))
    cited = set()
    for name in _tracked_text_files():
        if name.endswith((".py", ".md", ".yaml", ".json")) and not name.startswith(CLINICAL_DOCS):
            text = (REPO_ROOT / name).read_text(encoding="utf-8", errors="replace")
            cited |= set(re.findall(r"reference\.md`{0,2},? §(\d(?:\.\d)?)", text))
    assert cited, "the code cites reference.md sections"
    assert cited <= headings, f"cited sections missing from docs/clinical/reference.md: {sorted(cited - headings)}"


def test_the_realworld_data_is_in_the_repository_with_its_origins() -> None:
    realworld = REPO_ROOT / "tests" / "data" / "realworld"
    readme = (realworld / "README.md").read_text()
    assert "License" in readme or "licen" in readme.lower()
    assert len(list(realworld.rglob("*.json"))) >= 200
