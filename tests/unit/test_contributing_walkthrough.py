"""CONTRIBUTING.md, followed: a new recommendation is one card file, one rule module and its fixture (issue 12).

The walkthrough runs on a throwaway git copy of the product (the ``service`` package, ``cards/`` and
``openapi.yaml``): it adds a recommendation from the templates in ``docs/contributing/``, regenerates the
catalogue and evaluates the new fixture with ``cgh-cds`` from that copy, in a subprocess. The new card must
come back, the printed catalogue must list the new id, and git must show that nothing but the card file, the
rule module and the fixture changed: no id enum, contract table, registry row or document to edit by hand.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = REPO / "docs" / "contributing"
TEMPLATE_ID = "new-recommendation"
NEW_ID = "walkthrough-example"
MODULE = NEW_ID.replace("-", "_")
CARD = f"cards/{NEW_ID}.yaml"
RULE = f"service/pathway/rules/{MODULE}.py"
FIXTURE = f"fhir_fixtures/{NEW_ID}/manipulation-drafted-order-sign.json"

#: The steps of CONTRIBUTING.md that run the tools, from the copy (``service`` must be imported from there).
_RUN = f"""
import sys
import service
assert service.__file__.startswith({{root!r}}), service.__file__
from service.cli import main
if main(["catalogue"]) != 0:
    sys.exit("catalogue failed")
sys.exit(main(["evaluate", {FIXTURE!r}, "--today", "2025-06-01"]))
"""


def _git(root: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=walkthrough", "-c", "user.email=walkthrough@example.org", *args]
    return subprocess.run(command, cwd=root, capture_output=True, text=True, check=True, timeout=30).stdout


def _copy_product(root: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "service", root / "service", ignore=ignore)
    shutil.copytree(REPO / "cards", root / "cards")
    shutil.copy2(REPO / "openapi.yaml", root / "openapi.yaml")
    (root / "fhir_fixtures").mkdir()


def _from_template(name: str, target: Path) -> None:
    text = (TEMPLATES / name).read_text(encoding="utf-8")
    text = text.replace(TEMPLATE_ID, NEW_ID).replace(TEMPLATE_ID.replace("-", "_"), MODULE)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


def test_a_new_recommendation_is_its_card_file_rule_module_and_fixture(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    _copy_product(root)
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "before")

    _from_template("new-recommendation.yaml", root / CARD)
    _from_template("new_recommendation.py", root / RULE)
    _from_template("new-recommendation-order-sign.json", root / FIXTURE)
    result = subprocess.run(
        [sys.executable, "-c", _RUN.format(root=str(root))],
        cwd=root, capture_output=True, text=True, timeout=60,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert NEW_ID in result.stdout and "expectation: PASS" in result.stdout, result.stdout
    changed = {line[3:] for line in _git(root, "status", "--porcelain", "--untracked-files=all").splitlines()}
    assert changed == {CARD, RULE, FIXTURE}
    # The catalogue is printed from the declarations: the new rule module's declaration is in it already.
    assert f"| `{NEW_ID}` | Rn | order-select, order-sign |" in result.stdout, result.stdout
    assert json.loads((root / FIXTURE).read_text(encoding="utf-8"))["expect"]["cards"][0]["recommendation"] == NEW_ID
