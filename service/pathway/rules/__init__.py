"""The pathway's rules (docs/clinical/reference.md §2.3): one module per recommendation id, from :class:`Facts` to
``Advice``.

Each module (named after its id: ``pt_first_line.py`` for ``pt-first-line``) holds the rule function, which
restates its recommendation as When / Then and answers ``None`` when it does not fire, and ``DECLARATION``, a
:class:`~service.pathway.declaration.Recommendation`: the moments it runs at, which recommendations suppress it
(R1 paediatric scope, R2 red flags: the suppressions of docs/clinical/reference.md §2.3, applied by the engine),
and what it hands to its card. Helpers the rules share live in ``_common.py``. :data:`RULES` is discovered
from the package, in the declarations' ``order``.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable

from service.errors import ContentError
from service.pathway.declaration import PREFETCH_KEYS
from service.pathway.declaration import Recommendation
from service.pathway.ids import module_id


def _declarations() -> list[Recommendation]:
    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda item: item.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        declaration = getattr(module, "DECLARATION", None)
        if not isinstance(declaration, Recommendation):
            raise ContentError(f"{module.__name__} needs DECLARATION = Recommendation(...) beside its rule")
        if declaration.id != module_id(info.name):
            raise ContentError(
                f"{module.__name__}: DECLARATION.id is {declaration.id!r}; a rule module declares its own id "
                f"({module_id(info.name)!r})"
            )
        found.append(declaration)
    return found


def _checked(declarations: Iterable[Recommendation]) -> tuple[Recommendation, ...]:
    """The declarations in evaluation order, once their cross-references hold."""
    ordered = tuple(sorted(declarations, key=lambda item: item.order))
    by_order: dict[int, str] = {}
    by_id = {item.id: item for item in ordered}
    for item in ordered:
        if item.order in by_order:
            raise ContentError(f"{item.id} and {by_order[item.order]} share order {item.order}; pick a free number")
        by_order[item.order] = item.id
        for suppressor in item.suppressed_by:
            if by_id[suppressor].suppresses_when is None:
                raise ContentError(f"{item.id} is suppressed by {suppressor}, which declares no suppresses_when")
        unknown = sorted(item.data_keys - set(PREFETCH_KEYS))
        if unknown:
            raise ContentError(f"{item.id}: unknown prefetch key(s) {', '.join(unknown)} in data_keys")
    return ordered


#: Every rule, in evaluation order (which is also the tie-break order of advice of equal urgency).
RULES: tuple[Recommendation, ...] = _checked(_declarations())
