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

from service.bundles import read_patients
from service.commands.common import card_library
from service.commands.common import drafts_from_arguments
from service.commands.common import dry_run_settings
from service.dry_run import PatientResult
from service.dry_run import evaluate_patient
from service.dry_run import service_for
from service.errors import CdsServiceError
from service.scenarios import load_scenario

#: The scenario label of a snapshot (``fhir_fixtures/README.md``: ``S01``..., ``boundary``, a rule id, ``protocol``).
SNAPSHOT_SCENARIO = "snapshot"


def run(args: argparse.Namespace) -> int:
    """Write one fixture per patient (``--out`` itself for one patient; ``<stem>-<n>`` beside it for more)."""
    try:
        service = service_for(args.hook)
        drafts = drafts_from_arguments(args.draft, args.draft_code)
        patients = read_patients(args.bundle)
    except CdsServiceError as error:
        print(f"cgh-cds fixture new: {error.message}", file=sys.stderr)
        return 2
    if args.patient_id:
        patients = [p for p in patients if p.patient_id == args.patient_id]
        if not patients:
            print(f"cgh-cds fixture new: no Patient {args.patient_id} in {args.bundle}", file=sys.stderr)
            return 2
    today = args.today or date.today()
    settings = dry_run_settings().with_overrides(today=today)
    cards = card_library()
    status = 0
    for index, data in enumerate(patients, start=1):
        result = evaluate_patient(data, service, cards=cards, settings=settings, today=today, drafts=drafts)
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
