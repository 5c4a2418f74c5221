"""``cgh-cds evaluate --bundle FILE --hook HOOK``: the cards for each patient of a Bundle or NDJSON folder."""

from __future__ import annotations

import argparse
import sys
from datetime import date

import orjson

from service.bundles import read_patients
from service.commands.common import card_library
from service.commands.common import drafts_from_arguments
from service.commands.common import dry_run_settings
from service.dry_run import PatientResult
from service.dry_run import evaluate_patient
from service.dry_run import service_for
from service.errors import CdsServiceError

_INDICATOR_MARK = {"critical": "!!", "warning": "! ", "info": "i "}


def run(args: argparse.Namespace) -> int:
    """Print one result per patient; exit 0 when every patient was evaluated, 1 when one was not, 2 on bad input."""
    try:
        service = service_for(args.hook)
        drafts = drafts_from_arguments(args.draft, args.draft_code)
        patients = read_patients(args.bundle)
    except CdsServiceError as error:
        print(f"cgh-cds evaluate: {error.message}", file=sys.stderr)
        return 2
    today = args.today or date.today()
    settings = dry_run_settings().with_overrides(today=today)
    cards = card_library()
    failures = 0
    results = []
    for data in patients:
        result = evaluate_patient(data, service, cards=cards, settings=settings, today=today, drafts=drafts)
        failures += result.error is not None
        if args.json:
            results.append(_as_json(result))
        else:
            print(readable(result))
    if args.json:
        print(orjson.dumps(results[0] if len(results) == 1 else results, option=orjson.OPT_INDENT_2).decode())
    return 1 if failures else 0


def _as_json(result: PatientResult) -> dict[str, object]:
    if result.error is not None:
        return {"patientId": result.patient_id, "service": result.service_id,
                "error": {"code": result.error[0], "message": result.error[1]}}
    return {"patientId": result.patient_id, "service": result.service_id, "response": result.response}


def readable(result: PatientResult) -> str:
    """One patient's cards as text: indicator, recommendation id and summary, then the detail and suggestions."""
    lines = [f"== Patient/{result.patient_id} -> {result.service_id}"]
    if result.error is not None:
        lines.append(f"  error {result.error[0]}: {result.error[1]}")
        return "\n".join(lines)
    cards = (result.response or {}).get("cards", [])
    if not cards:
        lines.append("  (no cards: no guidance for this patient" + (", who has no CGH)" if result.no_cgh else ")"))
    for card in cards:
        topic = card.get("source", {}).get("topic", {})
        lines.append(f"  [{_INDICATOR_MARK.get(card['indicator'], '')}{card['indicator']}] "
                     f"{topic.get('code')}: {card['summary']}")
        for detail_line in card.get("detail", "").splitlines():
            lines.append(f"      {detail_line}")
        for suggestion in card.get("suggestions", []):
            lines.append(f"    > suggestion: {suggestion['label']}")
    return "\n".join(lines)
