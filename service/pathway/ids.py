"""The recommendation ids, derived from the rules package: one rule module per id, named after it.

``service/pathway/rules/pt_first_line.py`` declares ``pt-first-line``; nobody lists the ids by hand. The
module names are read from the package folder without importing the rules (which need this type), and
``service.pathway.rules`` checks that each module's declaration carries its own id.
"""

from __future__ import annotations

import pkgutil
from enum import StrEnum
from pathlib import Path

_RULES_PACKAGE = Path(__file__).parent / "rules"


def module_id(module_name: str) -> str:
    """The recommendation id a rule module declares: its name with dashes (``pt_first_line`` -> ``pt-first-line``)."""
    return module_name.replace("_", "-")


def _rule_modules() -> list[str]:
    return sorted(info.name for info in pkgutil.iter_modules([str(_RULES_PACKAGE)]) if not info.name.startswith("_"))


#: One member per rule module (``RecommendationId.PT_FIRST_LINE == "pt-first-line"``), in name order; the
#: evaluation order is the rules' own (``service.pathway.rules.RULES``).
RecommendationId = StrEnum(  # type: ignore[misc]  # members come from the package, so mypy cannot list them
    "RecommendationId", [(name.upper(), module_id(name)) for name in _rule_modules()]
)
