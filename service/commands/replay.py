"""``cgh-cds replay``: replay fixtures against a running service, with progress, a table and a JUnit report.

Each fixture's request (dates rolled to today) is sent to ``--url``; the answer is checked against the
fixture's expectation (``service.scenarios.check_response``). A line per fixture shows progress; the run ends
with a table (fixture, expected, got, pass/fail, latency); ``--junit FILE`` writes the results as JUnit XML for CI
systems. The exit status is 1 when any fixture failed.
"""

from __future__ import annotations

import argparse
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from datetime import date
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from service.scenarios import Scenario
from service.scenarios import check_response
from service.scenarios import iter_scenarios
from service.scenarios import load_scenario


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """One fixture replayed: what was expected and got, the problems found, the round-trip time."""

    scenario: Scenario
    expected: str
    got: str
    problems: tuple[str, ...]
    latency_ms: float
    skipped: str | None = None

    @property
    def outcome(self) -> str:
        return "SKIP" if self.skipped else "FAIL" if self.problems else "PASS"


def collect(paths: Sequence[Path], default: Path) -> list[Scenario]:
    """The fixtures under ``paths`` (files or folders), or every fixture of ``default`` when none is given."""
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.rglob("*.json")) if path.is_dir() else [path])
    return [load_scenario(p) for p in files] if files else list(iter_scenarios(default))


def expected_text(scenario: Scenario) -> str:
    """The expectation in a few words: the status, or the expected cards (``=`` when the list is exact)."""
    expect = scenario.expect
    if expect.status != 200:
        return f"HTTP {expect.status} {expect.error or ''}".strip()
    cards = " ".join(f"{c.recommendation}({c.indicator})" for c in expect.cards) or "no card"
    return f"={cards}" if expect.exact else cards


def got_text(status: int, body: Any) -> str:
    if status != 200:
        error = body.get("error") if isinstance(body, dict) else None
        return f"HTTP {status} {error if isinstance(error, str) else ''}".strip()
    cards = body.get("cards") if isinstance(body, dict) else None
    if not isinstance(cards, list):
        return "no cards array"
    return " ".join(
        f"{(c.get('source') or {}).get('topic', {}).get('code')}({c.get('indicator')})" for c in cards
        if isinstance(c, dict)
    ) or "no card"


def replay(
    scenarios: Sequence[Scenario],
    send: Callable[[str, dict[str, Any]], tuple[int, Any]],
    *,
    today: date,
    progress: Callable[[int, int, ReplayResult], None] | None = None,
) -> list[ReplayResult]:
    """Replay each scenario through ``send(service_id, request) -> (status, body)``, in order."""
    results: list[ReplayResult] = []
    for index, scenario in enumerate(scenarios, start=1):
        if scenario.server_resources:
            # Its data lives on a FHIR server the fixture describes; the FHIR-fallback tests seed one.
            result = ReplayResult(scenario, expected_text(scenario), "", (), 0.0,
                                  skipped="needs its serverResources on a FHIR server")
        else:
            rolled = scenario.rolled_to(today)
            started = time.perf_counter()
            status, body = send(rolled.service, rolled.request)
            latency = (time.perf_counter() - started) * 1000
            result = ReplayResult(scenario, expected_text(scenario), got_text(status, body),
                                  tuple(check_response(rolled, status, body)), latency)
        results.append(result)
        if progress is not None:
            progress(index, len(scenarios), result)
    return results


def table(results: Sequence[ReplayResult], root: Path | None = None) -> str:
    """The results as a text table: fixture, expected, got, pass/fail, latency."""
    rows = [("fixture", "expected", "got", "result", "latency ms")]
    for r in results:
        rows.append((_name(r.scenario.path, root), r.expected, r.got, r.outcome,
                     "" if r.skipped else f"{r.latency_ms:.1f}"))
    widths = [min(max(len(row[i]) for row in rows), 60) for i in range(4)]
    lines = []
    for row in rows:
        cells = [_cut(cell, width).ljust(width) for cell, width in zip(row[:4], widths, strict=True)]
        lines.append("  ".join([*cells, row[4].rjust(10)]))
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _name(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return str(path.resolve().relative_to(root.resolve()))
        except ValueError:
            pass
    return f"{path.parent.name}/{path.name}"


def junit_xml(results: Sequence[ReplayResult], *, elapsed_s: float, root: Path | None = None) -> bytes:
    """The results as JUnit XML: one ``testsuite``; a ``testcase`` per fixture (``failure`` / ``skipped``)."""
    failures = sum(1 for r in results if r.outcome == "FAIL")
    skipped = sum(1 for r in results if r.outcome == "SKIP")
    suites = ElementTree.Element("testsuites", name="cgh-cds replay", tests=str(len(results)),
                                 failures=str(failures), errors="0", skipped=str(skipped), time=f"{elapsed_s:.3f}")
    suite = ElementTree.SubElement(
        suites, "testsuite", name="cgh-cds replay", tests=str(len(results)), failures=str(failures), errors="0",
        skipped=str(skipped), time=f"{elapsed_s:.3f}", timestamp=datetime.now(UTC).replace(microsecond=0,
                                                                                           tzinfo=None).isoformat())
    for r in results:
        name = _name(r.scenario.path, root)
        case = ElementTree.SubElement(suite, "testcase", classname=f"fixtures.{r.scenario.service}", name=name,
                                      time=f"{r.latency_ms / 1000:.3f}")
        if r.skipped:
            ElementTree.SubElement(case, "skipped", message=r.skipped)
        elif r.problems:
            failure = ElementTree.SubElement(case, "failure", message=r.problems[0], type="ExpectationMismatch")
            failure.text = "\n".join([f"expected: {r.expected}", f"got: {r.got}", *r.problems])
    ElementTree.indent(suites)
    xml: bytes = ElementTree.tostring(suites, encoding="utf-8", xml_declaration=True)
    return xml


def run(args: argparse.Namespace, default_fixtures: Path, signer: Callable[[str], str] | None) -> int:
    import requests

    scenarios = collect(args.paths, default_fixtures)
    base = args.url.rstrip("/")
    session = requests.Session()

    def send(service_id: str, request: dict[str, Any]) -> tuple[int, Any]:
        url = f"{base}/cds-services/{service_id}"
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if signer is not None:
            headers["Authorization"] = f"Bearer {signer(url)}"
        response = session.post(url, data=orjson.dumps(request), headers=headers, timeout=args.timeout)
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, None

    def show(index: int, total: int, result: ReplayResult) -> None:
        latency = "" if result.skipped else f" ({result.latency_ms:.0f} ms)"
        print(f"[{index}/{total}] {result.outcome} {result.scenario.path}{latency}", flush=True)
        for problem in result.problems:
            print(f"     - {problem}")

    started = time.perf_counter()
    results = replay(scenarios, send, today=date.today(), progress=show)
    elapsed = time.perf_counter() - started
    root = args.paths[0] if len(args.paths) == 1 and args.paths[0].is_dir() else None
    print()
    print(table(results, root))
    failed = sum(1 for r in results if r.outcome == "FAIL")
    skipped = sum(1 for r in results if r.outcome == "SKIP")
    print(f"{len(results) - failed - skipped} passed, {failed} failed, {skipped} skipped ({elapsed:.2f} s)")
    if args.junit:
        args.junit.parent.mkdir(parents=True, exist_ok=True)
        args.junit.write_bytes(junit_xml(results, elapsed_s=elapsed, root=root))
        print(f"wrote {args.junit}")
    return 1 if failed else 0
