"""``cgh-cds evaluate --bundle FILE --hook HOOK``: the cards for each patient of a Bundle or NDJSON folder."""

from __future__ import annotations

import argparse

import orjson

from service.commands.card_text import card_lines
from service.commands.common import DryRun
from service.commands.common import bundle_input
from service.dry_run import PatientResult


def run(args: argparse.Namespace) -> int:
    """Print one result per patient; exit 0 when every patient was evaluated, 1 when one was not, 2 on bad input."""
    given = bundle_input(args, "cgh-cds evaluate")
    if given is None:
        return 2
    dry_run = DryRun.on(given, args.today)
    failures = 0
    results = []
    for data in given.patients:
        result = dry_run.evaluate(data)
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
        lines.extend(card_lines(card))
        for suggestion in card.get("suggestions", []):
            lines.append(f"    > suggestion: {suggestion['label']}")
    return "\n".join(lines)
