"""Template parsing, markdown escaping, unwrapping and the summary length budget (service/render/_text.py)."""

from __future__ import annotations

import pytest

from service.render._text import ELLIPSIS
from service.render._text import TemplateError
from service.render._text import compile_template
from service.render._text import fit_summary
from service.render._text import markdown_inline
from service.render._text import markup_problems
from service.render._text import plain
from service.render._text import plain_text_problems
from service.render._text import shorten
from service.render._text import text_length
from service.render._text import unwrap


def test_template_splits_literals_and_fields() -> None:
    template = compile_template("PT {pt_weeks} weeks, {pt_sessions} sessions.")
    assert template.fields == ("pt_weeks", "pt_sessions")
    assert template.literals == ("PT ", " weeks, ", " sessions.")
    assert template.static_length == len("PT  weeks,  sessions.")
    assert template.render({"pt_weeks": "6", "pt_sessions": "5"}) == "PT 6 weeks, 5 sessions."


@pytest.mark.parametrize("source", ["{Upper}", "{a b}", "{", "}", "{x!r}", "{x:>3}", "{{x}}"])
def test_template_rejects_anything_but_named_placeholders(source: str) -> None:
    with pytest.raises(TemplateError, match="stray"):
        compile_template(source)


def test_text_length_counts_like_javascript() -> None:
    assert text_length("abc") == 3
    assert text_length("é") == 1
    assert text_length("🧠") == 2


def test_plain_collapses_whitespace_and_drops_control_characters() -> None:
    assert plain("  a\n\tb\x00c\u2028 d ") == "a bc d"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("naproxen 500 mg", "naproxen 500 mg"),
        ("<b>x</b>", "\\<b\\>x\\</b\\>"),
        ("*a* _b_ `c` [d](e) | ~f~ #g $h", "\\*a\\* \\_b\\_ \\`c\\` \\[d\\](e) \\| \\~f\\~ \\#g \\$h"),
        ("- item", "\\- item"),
        ("+ item", "\\+ item"),
        ("=== ", "\\==="),
        ("1. first", "1\\. first"),
        ("12) first", "12\\) first"),
        ("back\\slash", "back\\\\slash"),
        ("line\n# heading", "line \\# heading"),
    ],
)
def test_markdown_inline_makes_ehr_text_inert(value: str, expected: str) -> None:
    assert markdown_inline(value) == expected


def test_shorten_cuts_at_a_word_boundary_with_an_ellipsis() -> None:
    assert shorten("short", 10) == "short"
    assert shorten("one two three four", 12) == "one two" + ELLIPSIS
    assert shorten("abcdefghijkl", 6) == "abcde" + ELLIPSIS
    assert shorten("one, two, three", 6) == "one" + ELLIPSIS
    assert shorten("abc", 1) == ELLIPSIS
    assert shorten("abc", 0) == ""
    cut = shorten("🧠" * 10, 5)
    assert text_length(cut) <= 5 and cut.endswith(ELLIPSIS)


def test_fit_summary_keeps_short_values_whole_and_shares_room_among_long_ones() -> None:
    template = compile_template("A {a}, B {b}, C {c}.")
    summary = fit_summary(template, {"a": "short", "b": "x " * 200, "c": "y " * 200}, limit=60)
    assert text_length(summary) <= 60
    assert summary.startswith("A short, B x")
    assert summary.endswith(ELLIPSIS)
    assert ", C y" in summary


def test_fit_summary_leaves_fitting_text_alone_and_avoids_a_double_stop() -> None:
    template = compile_template("Drafted {orders}.")
    assert fit_summary(template, {"orders": "MRI"}) == "Drafted MRI."
    long = fit_summary(template, {"orders": "word " * 100})
    assert long.endswith(ELLIPSIS) and not long.endswith(ELLIPSIS + ".")


def test_fit_summary_cuts_the_whole_sentence_as_a_last_resort() -> None:
    template = compile_template("x" * 150 + " {a}")
    summary = fit_summary(template, {"a": "value"})
    assert text_length(summary) == 139 and summary.endswith(ELLIPSIS)


def test_unwrap_joins_paragraph_lines_but_keeps_blocks() -> None:
    source = "First line\ncontinues.\n\n- item one\n  wraps\n- item two\n1. numbered\n\n**Bold** para\nend."
    assert unwrap(source) == (
        "First line continues.\n\n- item one wraps\n- item two\n1. numbered\n\n**Bold** para end."
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("<b>x</b>", "raw HTML"),
        ("<!-- hidden -->", "raw HTML"),
        ("&lt;script&gt;", "raw HTML"),
        ("[x](javascript:alert(1))", "script or data URLs"),
        ("[x](/relative)", "absolute http(s) URL"),
    ],
)
def test_markup_problems_flags_html_and_bad_links(text: str, problem: str) -> None:
    assert any(problem in p for p in markup_problems(text))


def test_markup_problems_accepts_plain_gfm() -> None:
    assert markup_problems("Age < 18 and **bold** [link](https://example.org) 5 > 3") == []


def test_plain_text_problems() -> None:
    assert plain_text_problems("A plain sentence: fine (really).") == []
    assert plain_text_problems("two\nlines")
    assert plain_text_problems("**bold**")
