"""Shared by the marshmallow-validated files (trusted clients, governance, card content, fixtures): error
messages that name the field.

Files read once (at start-up, by ``cgh-cds check`` or by a test) are checked by marshmallow schemas, which say
what is wrong with every field at once. The FHIR elements of each request are not: they are read by the
hand-written readers of ``service/fhir/elements.py``, whose fast paths profiling justified (they run for every
resource of every request; bench/README.md, "Record building"), and are checked against the fhir.resources
models by tests/unit/fhir/test_elements_fast_paths.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["flatten_messages"]


def flatten_messages(messages: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Marshmallow's nested error dict as ``(dotted.field[index], message)`` pairs; ``(file)`` for whole-document
    ones. List errors are keyed by the item's index: ``expect.cards[0].indicator``."""
    if isinstance(messages, Mapping):
        pairs: list[tuple[str, str]] = []
        for key, value in messages.items():
            # Dict fields report a bad key or value under {"key": [...]} / {"value": [...]}.
            if key in {"key", "value"} and prefix:
                pairs.extend(flatten_messages(value, prefix))
            elif key == "_schema":
                pairs.extend(flatten_messages(value, prefix))
            else:
                pairs.extend(flatten_messages(value, _field_path(prefix, key)))
        return pairs
    if isinstance(messages, list):
        return [pair for message in messages for pair in flatten_messages(message, prefix)]
    return [(prefix or "(file)", str(messages))]


def _field_path(prefix: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{prefix}[{key}]"
    return f"{prefix}.{key}" if prefix else str(key)
