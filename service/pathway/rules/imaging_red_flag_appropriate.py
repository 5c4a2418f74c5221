"""The rule of ``imaging-red-flag-appropriate``: when it fires and what it hands to its card."""

from __future__ import annotations

from types import MappingProxyType

from service.pathway.advice import Advice
from service.pathway.advice import Indicator
from service.pathway.advice import RecommendationId
from service.pathway.declaration import CardContract
from service.pathway.declaration import Recommendation
from service.pathway.facts import HEAD_INJURY
from service.pathway.facts import IMAGING_KINDS
from service.pathway.facts import IMMUNOSUPPRESSION
from service.pathway.facts import MALIGNANCY
from service.pathway.facts import MALIGNANCY_HISTORY
from service.pathway.facts import PREGNANCY_NEW_HEADACHE
from service.pathway.facts import TRAUMA
from service.pathway.facts import DraftOrder
from service.pathway.facts import Facts
from service.pathway.facts import Finding
from service.pathway.rules._common import ORDER_MOMENTS
from service.pathway.rules._common import _advice
from service.pathway.rules._common import _findings
from service.pathway.rules._common import _join
from service.pathway.rules._common import _order_list
from service.pathway.rules._common import _orders
from service.pathway.terminology import ValueSetId
from service.pathway.terminology import value_set

#: Modality advice follows the flag (revision-2 C09, ACR Appropriateness Criteria): red-flag categories, the
#: preferred study (an imaging-studies category), the studies that also fit, and the card note that explains.
_MODALITY: tuple[tuple[frozenset[str], str, frozenset[str], str], ...] = (
    (frozenset({TRAUMA}), "ct-cervical-spine", frozenset({"ct-cervical-spine"}), "cervical-trauma"),
    (frozenset({HEAD_INJURY}), "ct-head", frozenset({"ct-head"}), "head-injury"),
    (frozenset({"dissection", "stroke", "vertebrobasilar"}), "cta-mra", frozenset({"cta-mra"}), "vascular-imaging"),
    (frozenset({"sah", "thunderclap"}), "ct-head", frozenset({"ct-head", "cta-mra"}), "sah"),
    (
        frozenset(
            {
                "myelopathy",
                "neurologic-deficit",
                "infection",
                MALIGNANCY,
                MALIGNANCY_HISTORY,
                IMMUNOSUPPRESSION,
                PREGNANCY_NEW_HEADACHE,
            }
        ),
        "mri",
        frozenset({"mri"}),
        "mri-flags",
    ),
)


def _modality_advice(flags: tuple[Finding, ...], orders: tuple[DraftOrder, ...]) -> tuple[list[str], list[str]]:
    """The card notes for the flags present, and the preferred studies the drafted orders do not match
    (revision-2 C09: when the drafted study differs from the preferred one, the card names the preferred one)."""
    categories = {finding.category for finding in flags}
    drafted = frozenset(study for order in orders for study in order.studies)
    studies_vs = value_set(ValueSetId.IMAGING_STUDIES)
    notes: list[str] = []
    preferred: list[str] = []
    for flag_categories, study, fitting, note in _MODALITY:
        if not flag_categories & categories:
            continue
        notes.append(note)
        if not drafted & fitting:
            preferred.append(studies_vs.category_label(study) or study)
    return notes, preferred


def imaging_red_flag_appropriate(facts: Facts) -> Advice | None:
    """R4b ``imaging-red-flag-appropriate`` (docs/clinical/reference.md §2.3 R4b, §2.5; revision-2 C08, C09; ACR AC).

    When: imaging (cervical spine, head, or CTA/MRA) is among the judged orders and a red flag is present, or a
    history of malignancy or immunosuppression is recorded whatever the dates (note ``history-only`` when that
    history is all there is).
    Then: info: imaging is appropriate; the modality follows the flag (notes ``cervical-trauma``,
    ``head-injury``, ``vascular-imaging``, ``sah``, ``mri-flags``, ``pregnancy-mri``); when the drafted study
    differs from the preferred one, note ``preferred-study`` names it (fact ``preferred_study``).
    """
    orders = facts.judged(*IMAGING_KINDS)
    flags = facts.red_flags or facts.imaging_history
    if not orders or not flags:
        return None
    notes, preferred = _modality_advice(flags, orders)
    values = {"red_flags": _join((f.label for f in flags), "; "), "orders": _order_list(orders)}
    if preferred:
        values["preferred_study"] = _join(preferred, "; ")
        notes.insert(0, "preferred-study")
    if facts.pregnancy.pregnant:
        notes.append("pregnancy-mri")
    if not facts.red_flags:
        notes.append("history-only")
    return _advice(
        facts,
        DECLARATION.id,
        Indicator.INFO,
        values=values,
        notes=notes,
        triggers=[*_findings(flags, "red-flag"), *_orders(orders)],
        orders=orders,
    )


DECLARATION = Recommendation(
    id=RecommendationId("imaging-red-flag-appropriate"),
    number="R4b",
    order=120,
    moments=ORDER_MOMENTS,
    judge=imaging_red_flag_appropriate,
    contract=CardContract(
        facts=("red_flags", "orders"),
        notes=(
            "preferred-study",
            "cervical-trauma",
            "head-injury",
            "vascular-imaging",
            "sah",
            "mri-flags",
            "pregnancy-mri",
            "history-only",
        ),
        note_facts=MappingProxyType({"preferred-study": ("preferred_study",)}),
        roles=("red-flag",),
    ),
)
