"""The Prometheus multiprocess folder: prepared by the master before any worker, swept after a killed master."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from service.gunicorn_app import OWNED_METRICS_PREFIX
from service.gunicorn_app import prepare_metrics_dir


def test_a_folder_set_by_the_deployment_is_kept_but_emptied_of_the_last_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_1234.db").write_bytes(b"old run")
    (folder / "README").write_text("not ours")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    assert prepare_metrics_dir() is None  # not ours to remove at exit
    assert sorted(p.name for p in folder.iterdir()) == ["README"]


def test_the_master_makes_its_own_folder_and_sweeps_those_of_dead_masters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")  # recorded, so the folder set below is undone after
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    abandoned = tmp_path / f"{OWNED_METRICS_PREFIX}{dead.stdout.strip()}-abc"
    live = tmp_path / f"{OWNED_METRICS_PREFIX}{os.getppid()}-def"
    abandoned.mkdir()
    live.mkdir()
    owned = prepare_metrics_dir()
    assert owned is not None and Path(owned).is_dir() and os.environ["PROMETHEUS_MULTIPROC_DIR"] == owned
    assert Path(owned).name.startswith(f"{OWNED_METRICS_PREFIX}{os.getpid()}-")
    assert not abandoned.exists() and live.exists()
