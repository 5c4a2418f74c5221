"""``cgh-cds fixture new --bundle FILE --hook HOOK --out FILE``: snapshot a patient's current cards as a fixture.

The fixture is in the format of ``fhir_fixtures/README.md`` (``service.scenarios`` loads it): the hook request
built from the bundle, ``referenceDate`` = the evaluation date, and the cards given now as an exact expectation.
It is marked ``"review"``: the expectation is what the service says today, not a clinical judgement, until a
clinician has checked every card and removed the mark.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from service.commands.common import DryRun
from service.commands.common import bundle_input
from service.dry_run import PatientResult
from service.scenarios import load_scenario

#: The scenario label of a snapshot (``fhir_fixtures/README.md``: ``S01``..., ``boundary``, a rule id, ``protocol``).
SNAPSHOT_SCENARIO = "snapshot"


def run(args: argparse.Namespace) -> int:
    """Write one fixture per patient (``--out`` itself for one patient; ``<stem>-<n>`` beside it for more)."""
    given = bundle_input(args, "cgh-cds fixture new")
    if given is None:
        return 2
    patients = given.patients
    if args.patient_id:
        patients = [p for p in patients if p.patient_id == args.patient_id]
        if not patients:
            print(f"cgh-cds fixture new: no Patient {args.patient_id} in {args.bundle}", file=sys.stderr)
            return 2
    dry_run = DryRun.on(given, args.today)
    today = dry_run.today
    status = 0
    for index, data in enumerate(patients, start=1):
        result = dry_run.evaluate(data)
        if result.error is not None or result.request is None:
            code, message = result.error or ("bad-request", "no request")
            print(f"Patient/{data.patient_id}: not evaluated ({code}: {message}); no fixture written",
                  file=sys.stderr)
            status = 1
            continue
        out: Path = args.out if len(patients) == 1 else args.out.with_name(f"{args.out.stem}-{index}{args.out.suffix}")
        if out.exists() and not args.force:
            print(f"{out} exists; give --force to overwrite it", file=sys.stderr)
            status = 1
            continue
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(orjson.dumps(snapshot(result, args.bundle, today, args.title),
                                     option=orjson.OPT_INDENT_2) + b"\n")
        load_scenario(out)  # what was written must load as a fixture (raises ValueError naming the problem)
        got = ", ".join(f"{rec}" for rec in result.recommendations) or "no cards"
        print(f"wrote {out} ({result.service_id}: {got}); review it before relying on it")
    return status


def snapshot(result: PatientResult, source: Path, today: date, title: str | None = None) -> dict[str, Any]:
    """The fixture holding ``result``'s request and its cards as an exact expectation, marked for review."""
    assert result.request is not None and result.response is not None
    cards = [{"recommendation": card["source"]["topic"]["code"], "indicator": card["indicator"]}
             for card in result.response["cards"]]
    return {
        "title": title or f"Snapshot of {source.name}, patient {result.patient_id} ({result.service_id})",
        "scenario": SNAPSHOT_SCENARIO,
        "review": (
            f"Snapshot: the expected cards are those the service gave on {today.isoformat()}, not a clinical "
            "judgement. A clinician checks each card (and adds 'absent' ids that must never fire), then "
            "removes this field."
        ),
        "referenceDate": today.isoformat(),
        "service": result.service_id,
        "request": result.request,
        "expect": {"status": 200, "cards": cards, "exact": True},
    }
