"""The advice catalogue, generated from the recommendations' declarations (``cgh-cds catalogue``).

The catalogue is the people's view of the contract between the rules and the card files; the code's view is
the declarations themselves. The document is printed from them on demand and is not committed: a committed
copy would be one more file to regenerate (and to review) with every new recommendation, and could go stale.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from collections.abc import Sequence
from typing import Final

from service.pathway.advice import Moment
from service.pathway.declaration import COMMON_ROLES
from service.pathway.declaration import Recommendation
from service.pathway.rules import RULES

_INTRO: Final = """\
# Advice catalogue: what each rule hands to its card

Generated from the declarations in `service/pathway/rules/` by `cgh-cds catalogue`: print it again rather
than edit it. It is the contract between the rules and the card files in
`cards/`. For each recommendation id: the hook moments its rule runs at, the recommendations that suppress it,
the `Advice.facts` keys the rule always supplies (text values, already formatted), the `Advice.notes` it may
add (each names an optional paragraph the card file must define; a fact in parentheses is present only with
that note), the trigger roles it uses and the suggestions it may request. A card template may use only the
facts listed for its id. The rule chooses the indicator; the card file owns the wording.

Trigger roles common to all cards: {common}.
"""

_HEADER: Final = (
    "| id | rule | moments | suppressed by | facts (always) | notes (optional paragraphs) | trigger roles "
    "| suggestions |\n|---|---|---|---|---|---|---|---|\n"
)


def _code(names: Iterable[str]) -> str:
    return ", ".join(f"`{name}`" for name in names) or "—"


def _moments(declaration: Recommendation) -> str:
    if declaration.moments == frozenset(Moment):
        return "all"
    return ", ".join(moment.value for moment in Moment if moment in declaration.moments)


def _notes(declaration: Recommendation) -> str:
    contract = declaration.contract
    notes = []
    for note in contract.notes:
        facts = contract.note_facts.get(note, ())
        notes.append(f"`{note}` ({_code(facts)})" if facts else f"`{note}`")
    return ", ".join(notes) or "—"


def _row(declaration: Recommendation) -> str:
    contract = declaration.contract
    cells = (
        f"`{declaration.id.value}`",
        declaration.number,
        _moments(declaration),
        _code(rec.value for rec in declaration.suppressed_by),
        _code(contract.facts),
        _notes(declaration),
        ", ".join(contract.all_roles),
        _code(kind.value for kind in contract.suggestions),
    )
    return "| " + " | ".join(cells) + " |\n"


def _section(declaration: Recommendation) -> str:
    when = inspect.cleandoc(declaration.judge.__doc__ or "").partition("\n")[2].strip()
    extras = []
    if declaration.suppresses_when is not None:
        doc = inspect.cleandoc(declaration.suppresses_when.__doc__ or "")
        extras.append(f"Suppresses the rules that name it: {doc}")
    if declaration.data_keys:
        extras.append(f"Names a data gap for prefetch key(s) {_code(sorted(declaration.data_keys))}.")
    if declaration.escalation:
        extras.append("An escalation step: never fires while a prefetch key could not be read.")
    body = "\n\n".join(part for part in (when, *extras) if part)
    return f"\n## `{declaration.id.value}` ({declaration.number})\n\n{body}\n"


def catalogue_markdown(rules: Sequence[Recommendation] = RULES) -> str:
    """The catalogue document for ``rules`` (every recommendation, in evaluation order)."""
    table = "".join(_row(declaration) for declaration in rules)
    sections = "".join(_section(declaration) for declaration in rules)
    return _INTRO.format(common=", ".join(COMMON_ROLES)) + "\n" + _HEADER + table + sections
