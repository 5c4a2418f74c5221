"""Fixtures of the contract tests: the contract as written and one app per module (``CGH_AUTH=off``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from tests.contract.oas import build_app
from tests.contract.oas import load_contract


@pytest.fixture(scope="module")
def contract() -> dict[str, Any]:
    return load_contract()


@pytest.fixture(scope="module")
def contract_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """One app per test module: building it loads and validates all card content."""
    app = build_app(tmp_path_factory.mktemp("contract"))
    yield app
    app.extensions["cgh_runtime"].store.dispose()
