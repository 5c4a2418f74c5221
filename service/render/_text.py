"""Text mechanics of card content: placeholder templates, markdown escaping and the summary length budget.

Templates use named placeholders (``{pt_weeks}``) and nothing else: no expressions, no format specs, no
literal braces. They are parsed once at start-up into literal/field parts, so rendering is a join.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

#: CDS Hooks 2.0 §Card: summary is "<140-character"; Inferno fails at exactly 140.
SUMMARY_MAX: Final = 139
#: Room each summary placeholder is guaranteed before its value is shortened (loader budget check).
SUMMARY_FIELD_ROOM: Final = 20
ELLIPSIS: Final = "…"

_PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")
_BRACE = re.compile(r"[{}]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u2028\u2029]")
_SPACE = re.compile(r"\s+")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~#$])")
_MD_LINE_START = re.compile(r"^(?:([-+=])|(\d+)([.)]))")
#: Raw HTML (tags, comments, declarations, processing instructions) and markdown autolinks in angle brackets.
_HTML = re.compile(r"<\s*[A-Za-z/!?]|&lt;\s*[A-Za-z/]", re.IGNORECASE)
_MD_LINK = re.compile(r"\]\(([^)\s]*)")
_SCRIPT_URL = re.compile(r"\b(?:javascript|vbscript|data):", re.IGNORECASE)


class TemplateError(ValueError):
    """A template is malformed; the loader turns it into a ``ContentError`` naming the file and field."""


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template: ``literals[0] field[0] literals[1] ... field[n-1] literals[n]``."""

    source: str
    literals: tuple[str, ...]
    fields: tuple[str, ...]

    @property
    def static_length(self) -> int:
        """Length (UTF-16 code units) of the text around the placeholders."""
        return sum(text_length(part) for part in self.literals)

    def render(self, values: Mapping[str, str]) -> str:
        parts = [self.literals[0]]
        for name, literal in zip(self.fields, self.literals[1:], strict=True):
            parts.append(values[name])
            parts.append(literal)
        return "".join(parts)


def compile_template(source: str) -> Template:
    """Parse ``source``; :raises TemplateError: on a brace that is not part of a ``{name}`` placeholder."""
    literals: list[str] = []
    fields: list[str] = []
    position = 0
    for match in _PLACEHOLDER.finditer(source):
        literals.append(source[position : match.start()])
        fields.append(match.group(1))
        position = match.end()
    literals.append(source[position:])
    for literal in literals:
        stray = _BRACE.search(literal)
        if stray:
            snippet = literal[max(0, stray.start() - 15) : stray.start() + 15].strip()
            raise TemplateError(
                f"stray '{stray.group()}' near {snippet!r}: placeholders are {{lower_snake_name}}, "
                "and literal braces are not allowed"
            )
    return Template(source, tuple(literals), tuple(fields))


def text_length(text: str) -> int:
    """Length as JavaScript counts it (UTF-16 code units): never less than the code-point count.

    Validators written in JavaScript measure ``summary.length`` this way, so a summary that fits in this
    count fits in every count.
    """
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def plain(value: str) -> str:
    """A fact value as one line of plain text: control characters dropped, whitespace runs collapsed."""
    return _SPACE.sub(" ", _CONTROL.sub("", value)).strip()


def markdown_inline(value: str) -> str:
    """A fact value (EHR-derived text) made inert in markdown: no emphasis, links, HTML, tables or blocks."""
    text = _MD_SPECIAL.sub(r"\\\1", plain(value))
    return _MD_LINE_START.sub(
        lambda m: f"\\{m.group(1)}" if m.group(1) else f"{m.group(2)}\\{m.group(3)}", text
    )


def shorten(text: str, room: int) -> str:
    """``text`` cut to at most ``room`` UTF-16 units, at a word boundary when one is near, ending in "…"."""
    if text_length(text) <= room:
        return text
    if room <= 1:
        return ELLIPSIS[:room]
    kept: list[str] = []
    used = 0
    for char in text:
        width = text_length(char)
        if used + width > room - 1:
            break
        kept.append(char)
        used += width
    cut = "".join(kept)
    boundary = cut.rfind(" ")
    if boundary >= len(cut) // 2:
        cut = cut[:boundary]
    return cut.rstrip(" ,;:-–—(") + ELLIPSIS


def fit_summary(template: Template, values: Mapping[str, str], limit: int = SUMMARY_MAX) -> str:
    """Render a summary within ``limit``: long values are shortened (longest first), the sentence stays whole.

    Each placeholder keeps at least an equal share of the room left by the template text; cutting the whole
    sentence is the last resort (only reachable with a template the loader would reject).
    """
    texts = {name: plain(values[name]) for name in template.fields}
    room = limit - template.static_length
    needed = sum(text_length(texts[name]) for name in template.fields)
    if needed > room and template.fields:
        caps = _share(room, {name: text_length(text) for name, text in texts.items()})
        texts = {name: shorten(text, caps[name]) for name, text in texts.items()}
    # A shortened value before the sentence's full stop would read "…."
    summary = plain(template.render(texts)).replace(ELLIPSIS + ".", ELLIPSIS)
    return shorten(summary, limit)


def _share(room: int, lengths: Mapping[str, int]) -> dict[str, int]:
    """Water-filling: short values keep their length, the rest split what is left equally."""
    caps: dict[str, int] = {}
    remaining = max(room, 0)
    pending = sorted(lengths, key=lambda name: lengths[name])
    while pending:
        share = remaining // len(pending)
        name = pending[0]
        if lengths[name] <= share:
            caps[name] = lengths[name]
            remaining -= lengths[name]
            pending.pop(0)
            continue
        for other in pending:
            caps[other] = share
        break
    return caps


_BLOCK_START = re.compile(r"^(?:[-*+] |\d+[.)] |#|\||>)")


def unwrap(markdown: str) -> str:
    """Join the hard-wrapped lines of each paragraph or list item into one line.

    Content files are wrapped for reading; clients disagree on whether a single newline is a space or a line
    break, so the rendered detail has none inside a paragraph. Blank lines, list items, headings, tables and
    quotes start new lines as written.
    """
    lines: list[str] = []
    for raw in markdown.strip().splitlines():
        line = raw.strip()
        if line and lines and lines[-1] and not _BLOCK_START.match(line):
            lines[-1] = f"{lines[-1]} {line}"
        else:
            lines.append(line)
    return "\n".join(lines)


def markup_problems(text: str) -> list[str]:
    """Why ``text`` is not acceptable card markdown (GFM without raw HTML, links to http(s) only)."""
    problems: list[str] = []
    html = _HTML.search(text)
    if html:
        problems.append(f"raw HTML is not allowed (near {text[html.start() : html.start() + 20]!r})")
    if _SCRIPT_URL.search(text):
        problems.append("script or data URLs are not allowed")
    for url in _MD_LINK.findall(text):
        if not url.startswith(("https://", "http://")):
            problems.append(f"link target {url!r} must be an absolute http(s) URL")
    return problems


def plain_text_problems(text: str) -> list[str]:
    """Why ``text`` is not acceptable plain text (summaries and titles: one line, no markup)."""
    problems: list[str] = []
    if "\n" in text.strip() or _CONTROL.search(text):
        problems.append("must be a single line")
    if re.search(r"[*_`#\[\]<>|]", text):
        problems.append("must be plain text (no markdown or HTML characters * _ ` # [ ] < > |)")
    return problems
