"""What the bring-your-own-data commands share: the dry-run settings and card content, the drafts given, and
the service, drafts and patients of ``--hook``, ``--draft``/``--draft-code`` and ``--bundle``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from service.bundles import PatientData
from service.bundles import draft_from_code
from service.bundles import parse_draft_code
from service.bundles import read_drafts
from service.bundles import read_patients
from service.config import AuthMode
from service.config import Settings
from service.content import cards_dir
from service.dry_run import PatientResult
from service.dry_run import evaluate_patient
from service.dry_run import service_for
from service.errors import CdsServiceError
from service.render import CardLibrary
from service.render import load_card_library
from service.services import CdsService


def dry_run_settings() -> Settings:
    """Settings of an in-process evaluation: no authentication; nothing is stored (dry runs are not audited)."""
    return Settings(auth=AuthMode.OFF)


def card_library() -> CardLibrary:
    return load_card_library(cards_dir())


def drafts_from_arguments(files: Sequence[Path] | None, codes: Sequence[str] | None) -> list[dict[str, Any]]:
    """The drafted orders of ``--draft FILE`` and ``--draft-code SYSTEM|CODE``, in that order."""
    drafts: list[dict[str, Any]] = []
    for path in files or ():
        drafts.extend(read_drafts(path))
    for text in codes or ():
        drafts.append(draft_from_code(*parse_draft_code(text)))
    return drafts


@dataclass(frozen=True, slots=True)
class BundleInput:
    """The service of ``--hook``, the drafts of ``--draft``/``--draft-code`` and the patients of ``--bundle``."""

    service: CdsService
    drafts: list[dict[str, Any]]
    patients: list[PatientData]


def bundle_input(args: argparse.Namespace, command: str) -> BundleInput | None:
    """The command's input, or None once the reason it is unusable is printed as ``<command>: <message>``."""
    try:
        service = service_for(args.hook)
        drafts = drafts_from_arguments(args.draft, args.draft_code)
        patients = read_patients(args.bundle)
    except CdsServiceError as error:
        print(f"{command}: {error.message}", file=sys.stderr)
        return None
    return BundleInput(service, drafts, patients)


@dataclass(frozen=True, slots=True)
class DryRun:
    """In-process evaluation of a user's patients on one day: dry-run settings, the card content, no audit."""

    given: BundleInput
    today: date
    settings: Settings
    cards: CardLibrary

    @classmethod
    def on(cls, given: BundleInput, today: date | None) -> DryRun:
        """A dry run on ``today`` (``--today``), else on the real date."""
        day = today or date.today()
        return cls(given, day, dry_run_settings().with_overrides(today=day), card_library())

    def evaluate(self, data: PatientData) -> PatientResult:
        return evaluate_patient(data, self.given.service, cards=self.cards, settings=self.settings, today=self.today,
                                drafts=self.given.drafts)
