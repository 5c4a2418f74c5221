"""Fixtures for the render tests: the real card library, loaded once."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.render import CardLibrary
from service.render import load_card_library

CARDS_DIR = Path(__file__).resolve().parents[3] / "cards"


@pytest.fixture(scope="session")
def cards_dir() -> Path:
    return CARDS_DIR


@pytest.fixture(scope="session")
def library(cards_dir: Path) -> CardLibrary:
    return load_card_library(cards_dir)
