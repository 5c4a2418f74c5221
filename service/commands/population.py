"""``cgh-cds population --bundles DIR|NDJSON_DIR --hook HOOK``: how often each recommendation would fire.

Governance asks, before switching a recommendation on, "for how many of our patients would it fire?". Every
patient is evaluated as the hook would be (``service.dry_run``, nothing audited), in parallel across cores
(``multiprocessing``). The work is streamed: the parent hands out file names (a folder of patient Bundles) or
the byte offsets of each patient's lines (a Bulk Data NDJSON folder), workers read and evaluate one unit at a
time and send back only recommendation ids, so memory does not grow with the number of patients (the NDJSON
index holds three integers per resource, never the resources themselves).
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from pathlib import Path
from typing import Any
from typing import TextIO

import orjson

from service.bundles import PatientData
from service.bundles import by_patient
from service.bundles import patient_of
from service.bundles import read_resources
from service.commands.common import card_library
from service.commands.common import drafts_from_arguments
from service.commands.common import dry_run_settings
from service.config import Settings
from service.dry_run import evaluate_patient
from service.dry_run import service_for
from service.errors import CdsServiceError
from service.render import CardLibrary
from service.services import CdsService

#: One patient's outcome as sent back to the parent: recommendation ids fired, no CGH, error code.
Outcome = tuple[tuple[str, ...], bool, str | None]
#: A unit of work: a Bundle file, or one patient's NDJSON lines as (file, offset, length).
Unit = str | tuple[tuple[str, int, int], ...]


@dataclass
class Tally:
    """The running counts: patients, patients per recommendation, patients with no CGH, errors per code."""

    patients: int = 0
    no_cgh: int = 0
    fired: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)

    def add(self, outcome: Outcome) -> None:
        recommendations, no_cgh, error = outcome
        self.patients += 1
        if error is not None:
            self.errors[error] += 1
            return
        self.no_cgh += no_cgh
        self.fired.update(set(recommendations))


# ------------------------------------------------------------------------------------------------- workers

_worker: dict[str, Any] = {}


def _init_worker(service_id: str, today: date, drafts: list[dict[str, Any]]) -> None:
    _worker.update(service=service_for(service_id), today=today, drafts=drafts, settings=dry_run_settings(),
                   cards=_worker.get("cards") or card_library())


def _evaluate_unit(unit: Unit) -> list[Outcome]:
    patients = by_patient(read_resources(Path(unit))) if isinstance(unit, str) else [_ndjson_patient(unit)]
    return [_outcome(data, _worker["service"], _worker["cards"], _worker["settings"], _worker["today"],
                     _worker["drafts"]) for data in patients]


def _outcome(data: PatientData, service: CdsService, cards: CardLibrary, settings: Settings, today: date,
             drafts: list[dict[str, Any]]) -> Outcome:
    result = evaluate_patient(data, service, cards=cards, settings=settings, today=today, drafts=drafts)
    return result.recommendations, result.no_cgh, result.error[0] if result.error else None


def _safe_evaluate_unit(unit: Unit) -> list[Outcome]:
    try:
        return _evaluate_unit(unit)
    except CdsServiceError as error:  # an unreadable file counts as one patient in error, the run goes on
        return [((), False, error.code)]


def _ndjson_patient(lines: Sequence[tuple[str, int, int]]) -> PatientData:
    resources = []
    for file, offset, length in lines:
        with open(file, "rb") as handle:
            handle.seek(offset)
            resources.append(orjson.loads(handle.read(length)))
    patients = by_patient(resources)
    return patients[0]


# ------------------------------------------------------------------------------------------------- units


def work_units(source: Path) -> tuple[int, Iterator[Unit]]:
    """How many units, and the units: Bundle files of a folder, or per-patient line offsets of NDJSON files."""
    if source.is_dir() and any(source.glob("*.ndjson")):
        index = _ndjson_index(sorted(source.glob("*.ndjson")))
        return len(index), (tuple(lines) for lines in index.values())
    files = sorted(str(p) for p in source.glob("*.json")) if source.is_dir() else [str(source)]
    return len(files), iter(files)


def _ndjson_index(files: Sequence[Path]) -> dict[str, list[tuple[str, int, int]]]:
    """Patient id → the (file, offset, length) of its Patient line and of every line that belongs to it."""
    index: dict[str, list[tuple[str, int, int]]] = {}
    pending: list[tuple[str, tuple[str, int, int]]] = []
    for file in files:
        offset = 0
        with file.open("rb") as handle:
            for line in handle:
                length = len(line)
                if line.strip():
                    resource = orjson.loads(line)
                    where = (str(file), offset, length)
                    if resource.get("resourceType") == "Patient" and isinstance(resource.get("id"), str):
                        index.setdefault(resource["id"], []).insert(0, where)
                    else:
                        owner = patient_of(resource)
                        if owner is not None:
                            pending.append((owner, where))
                offset += length
    for owner, where in pending:
        if owner in index:
            index[owner].append(where)
    return index


# ------------------------------------------------------------------------------------------------- running


def run(args: argparse.Namespace) -> int:
    try:
        service = service_for(args.hook)
        drafts = drafts_from_arguments(args.draft, args.draft_code)
    except CdsServiceError as error:
        print(f"cgh-cds population: {error.message}", file=sys.stderr)
        return 2
    if not args.bundles.exists():
        print(f"cgh-cds population: {args.bundles} does not exist", file=sys.stderr)
        return 2
    today = args.today or date.today()
    workers = args.workers or os.cpu_count() or 1
    started = time.perf_counter()
    total, units = work_units(args.bundles)
    tally = population(units, service, today, drafts, workers=workers,
                       progress=None if args.quiet else _Progress(total, sys.stderr))
    elapsed = time.perf_counter() - started
    cards = card_library()
    print(summary_table(tally, cards))
    rate = tally.patients / elapsed if elapsed else 0.0
    print(f"{tally.patients} patients in {elapsed:.1f} s ({rate:.0f} patients/s, {workers} workers)")
    if args.csv:
        with args.csv.open("w", newline="", encoding="utf-8") as handle:
            write_csv(tally, cards, handle)
        print(f"wrote {args.csv}")
    return 1 if tally.errors else 0


def population(units: Iterator[Unit], service: CdsService, today: date, drafts: list[dict[str, Any]], *,
               workers: int, progress: _Progress | None = None) -> Tally:
    """Evaluate every unit with ``workers`` processes (1: in this process) and count the outcomes."""
    tally = Tally()
    if workers <= 1:
        _init_worker(service.id, today, drafts)
        for unit in units:
            for outcome in _safe_evaluate_unit(unit):
                tally.add(outcome)
            if progress:
                progress.step(tally.patients)
    else:
        # The card library is loaded once here and inherited by forked workers; elsewhere each worker loads it.
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        if method == "fork":
            _worker["cards"] = card_library()
        context = multiprocessing.get_context(method)
        with context.Pool(workers, initializer=_init_worker, initargs=(service.id, today, drafts)) as pool:
            # imap_unordered pulls units lazily (bounded by the chunks in flight): the list is never built.
            for outcomes in pool.imap_unordered(_safe_evaluate_unit, units, chunksize=4):
                for outcome in outcomes:
                    tally.add(outcome)
                if progress:
                    progress.step(tally.patients)
    if progress:
        progress.done(tally.patients)
    return tally


class _Progress:
    """A one-line progress bar on stderr: units done of the total, patients, patients per second."""

    def __init__(self, total: int, stream: TextIO, width: int = 30) -> None:
        self._total, self._stream, self._width = max(total, 1), stream, width
        self._done = 0
        self._started = time.perf_counter()
        self._last = 0.0

    def step(self, patients: int) -> None:
        self._done += 1
        now = time.perf_counter()
        if now - self._last >= 0.2 or self._done == self._total:
            self._last = now
            self._draw(patients, now)

    def _draw(self, patients: int, now: float) -> None:
        filled = int(self._width * self._done / self._total)
        rate = patients / (now - self._started) if now > self._started else 0.0
        self._stream.write(f"\r[{'#' * filled}{'.' * (self._width - filled)}] {self._done}/{self._total} "
                           f"{patients} patients {rate:.0f}/s")
        self._stream.flush()

    def done(self, patients: int) -> None:
        self._draw(patients, time.perf_counter())
        self._stream.write("\n")


def _rows(tally: Tally, cards: CardLibrary) -> list[tuple[str, str, int, str, str]]:
    evaluated = tally.patients - sum(tally.errors.values())
    with_cgh = evaluated - tally.no_cgh
    rows = []
    for recommendation, content in cards.cards.items():
        count = tally.fired.get(recommendation.value, 0)
        rows.append((recommendation.value, content.title, count, _percent(count, evaluated),
                     _percent(count, with_cgh)))
    rows.sort(key=lambda row: (-row[2], row[0]))
    return rows


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}" if whole else ""


def summary_table(tally: Tally, cards: CardLibrary) -> str:
    """Per recommendation: the patients it fires for, as a share of all patients and of those with CGH."""
    evaluated = tally.patients - sum(tally.errors.values())
    lines = [f"{'recommendation':<36} {'patients':>9} {'% all':>7} {'% CGH':>7}"]
    for recommendation, _, count, of_all, of_cgh in _rows(tally, cards):
        lines.append(f"{recommendation:<36} {count:>9} {of_all:>7} {of_cgh:>7}")
    lines.append(f"patients: {tally.patients}; evaluated: {evaluated}; without CGH (no card possible): "
                 f"{tally.no_cgh}; with CGH: {evaluated - tally.no_cgh}")
    for code, count in sorted(tally.errors.items()):
        lines.append(f"not evaluated ({code}): {count}")
    return "\n".join(lines)


def write_csv(tally: Tally, cards: CardLibrary, handle: TextIO) -> None:
    """The table as CSV, then rows for the patients without CGH and those not evaluated (per error code)."""
    writer = csv.writer(handle)
    writer.writerow(["recommendation", "title", "patients", "percent_of_patients", "percent_of_patients_with_cgh"])
    for row in _rows(tally, cards):
        writer.writerow(row)
    evaluated = tally.patients - sum(tally.errors.values())
    writer.writerow(["(no CGH)", "patients without confirmed or suspected CGH", tally.no_cgh,
                     _percent(tally.no_cgh, evaluated), ""])
    for code, count in sorted(tally.errors.items()):
        writer.writerow([f"(error: {code})", "patients not evaluated", count, "", ""])
