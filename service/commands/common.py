"""What the bring-your-own-data commands share: the dry-run settings and card content, and the drafts given."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from service.bundles import draft_from_code
from service.bundles import parse_draft_code
from service.bundles import read_drafts
from service.config import AuthMode
from service.config import Settings
from service.content import cards_dir
from service.render import CardLibrary
from service.render import load_card_library


def dry_run_settings() -> Settings:
    """Settings of an in-process evaluation: no authentication; nothing is stored (dry runs are not audited)."""
    return Settings(auth=AuthMode.OFF)


def card_library() -> CardLibrary:
    return load_card_library(cards_dir())


def drafts_from_arguments(files: Sequence[Path] | None, codes: Sequence[str] | None) -> list[dict[str, Any]]:
    """The drafted orders of ``--draft FILE`` and ``--draft-code SYSTEM|CODE``, in that order."""
    drafts: list[dict[str, Any]] = []
    for path in files or ():
        drafts.extend(read_drafts(path))
    for text in codes or ():
        drafts.append(draft_from_code(*parse_draft_code(text)))
    return drafts
