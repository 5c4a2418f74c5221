"""A card as text for the terminal: its indicator, recommendation id and summary, then its detail indented.

Kept free of the web stack: ``service.cli`` imports it at start-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: A mark per indicator, so the urgent cards stand out in a plain terminal.
INDICATOR_MARK = {"critical": "!!", "warning": "! ", "info": "i "}


def card_lines(card: Mapping[str, Any]) -> list[str]:
    """The heading line and the detail lines of one CDS Hooks card (its suggestions are the caller's to add)."""
    topic = card.get("source", {}).get("topic", {})
    mark = INDICATOR_MARK.get(card["indicator"], "")
    lines = [f"  [{mark}{card['indicator']}] {topic.get('code')}: {card['summary']}"]
    lines.extend(f"      {detail_line}" for detail_line in card.get("detail", "").splitlines())
    return lines
