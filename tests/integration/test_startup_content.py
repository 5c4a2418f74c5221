"""A broken content file stops ``cgh-cds serve`` before it takes traffic, and the message names the file.

Runs a copy of the package and its content (a checkout layout in a temporary folder) with one file broken,
so the real start-up path (settings, app factory, gunicorn preload) is what refuses.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.processes import free_port
from service.content import PACKAGED_ITEMS
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration


def _checkout_copy(tmp_path: Path) -> Path:
    root = tmp_path / "checkout"
    shutil.copytree(REPO_ROOT / "service", root / "service", ignore=shutil.ignore_patterns("__pycache__", "_content"))
    for item in PACKAGED_ITEMS:
        source = REPO_ROOT / item
        if source.is_dir():
            shutil.copytree(source, root / item)
        else:
            shutil.copy2(source, root / item)
    return root


def _serve(root: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CGH_")}
    env.update({"PYTHONPATH": str(root), "CGH_AUTH": "off", "CGH_INSTANCE_PATH": str(tmp_path / "instance")})
    return subprocess.run(
        [sys.executable, "-m", "service.cli", "serve", "--port", str(free_port()), "--workers", "1"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )


@pytest.mark.parametrize(
    ("broken", "content"),
    [
        ("cards/pt-first-line.yaml", "id: [never closed\n"),
        ("service/pathway/valuesets/red-flags.json", "{not json"),
        ("openapi.yaml", "openapi: 3.1.0\ninfo: {title: x}\n"),
    ],
)
def test_a_broken_content_file_stops_start_up_naming_it(tmp_path: Path, broken: str, content: str) -> None:
    root = _checkout_copy(tmp_path)
    (root / broken).write_text(content, encoding="utf-8")
    result = _serve(root, tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert Path(broken).name in result.stderr
    assert "Traceback" not in result.stderr


def test_the_copy_starts_when_nothing_is_broken(tmp_path: Path) -> None:
    """The same copy, unbroken, gets past content loading (proves the failures above are the broken files)."""
    root = _checkout_copy(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CGH_")}
    env.update({"PYTHONPATH": str(root), "CGH_AUTH": "off", "CGH_INSTANCE_PATH": str(tmp_path / "instance")})
    probe = subprocess.run(
        [sys.executable, "-c", "import service, service.content as c; from service import create_app;"
         "create_app(); print(service.__file__); print(c.cards_dir())"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )
    assert probe.returncode == 0, probe.stderr
    module, cards = probe.stdout.split()
    assert Path(module).is_relative_to(root) and Path(cards) == root / "cards"
