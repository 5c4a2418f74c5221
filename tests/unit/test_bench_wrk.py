"""bench/run finds its load generator (wrk), installs Debian's package as root, and otherwise says why not."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.wrk import ensure_wrk


def test_without_wrk_and_without_permission_to_install_the_note_names_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no wrk, no apt-get

    lookup = ensure_wrk(may_install=False)

    assert lookup.path is None
    assert "apt-get install -y wrk" in lookup.note
    assert "not root" in lookup.note


def test_without_wrk_and_without_apt_get_the_note_says_so_and_nothing_is_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    lookup = ensure_wrk(may_install=True)

    assert lookup.path is None
    assert "apt-get is not available" in lookup.note
