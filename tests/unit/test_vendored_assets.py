"""Vendored front-end files are the published ones, with their licence beside them (no CDN, no silent edits)."""

from __future__ import annotations

import hashlib

from tests.conftest import REPO_ROOT

CHARTJS = REPO_ROOT / "service" / "web" / "static" / "vendor" / "chartjs"
#: sha256 of dist/chart.umd.min.js in the npm package chart.js 4.6.1 (see the folder's README.md).
CHARTJS_SHA256 = "87364cc2b2a76a6684929e7d6b80b18a897794db38400caff1fcf1791c6925d2"


def test_chartjs_is_the_published_file_with_its_licence() -> None:
    assert hashlib.sha256((CHARTJS / "chart.umd.min.js").read_bytes()).hexdigest() == CHARTJS_SHA256
    assert "The MIT License" in (CHARTJS / "LICENSE.md").read_text()
    assert CHARTJS_SHA256 in (CHARTJS / "README.md").read_text()


def test_the_page_loads_chartjs_from_the_service_itself() -> None:
    page = (REPO_ROOT / "service" / "web" / "templates" / "analytics.html").read_text()
    assert "filename='vendor/chartjs/chart.umd.min.js'" in page
    assert "http://" not in page and "https://" not in page
