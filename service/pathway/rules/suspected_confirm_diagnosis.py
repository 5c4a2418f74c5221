"""The rule of ``suspected-confirm-diagnosis``: when it fires and what it hands to its card."""

from __future__ import annotations

from service.pathway.advice import Advice
from service.pathway.advice import Indicator
from service.pathway.advice import RecommendationId
from service.pathway.declaration import CardContract
from service.pathway.declaration import Recommendation
from service.pathway.facts import Facts
from service.pathway.rules._common import OUT_OF_SCOPE_PEDIATRIC
from service.pathway.rules._common import PT_COURSE_KEYS
from service.pathway.rules._common import RECORD_REVIEW
from service.pathway.rules._common import _advice
from service.pathway.rules._common import _condition_triggers
from service.pathway.rules._common import _join
from service.pathway.rules._common import _procedures


def suspected_confirm_diagnosis(facts: Facts) -> Advice | None:
    """R12 ``suspected-confirm-diagnosis`` (docs/clinical/reference.md §2.3 R12, §2.2 cgh_suspected).

    When: CGH is suspected (provisional or unverified G44.86, a legacy code, or headache with a cervical
    disorder) but not confirmed, and controlled cervical medial branch blocks have not confirmed it.
    Then: info: confirm against ICHD-3 11.2.1; PT may start; step 4 needs a confirmed diagnosis. Note
    ``block-supports`` when a block has >= 50 % structured relief: it supports the diagnosis (criterion C4,
    one of the two needed) but does not confirm it (revision-2 C16).
    """
    diagnosis = facts.diagnosis
    blocks = facts.diagnostic_blocks
    if not diagnosis.suspected or diagnosis.confirmed or blocks.confirms:
        return None
    return _advice(
        facts,
        DECLARATION.id,
        Indicator.INFO,
        values={"basis": _join(diagnosis.basis)},
        notes=["block-supports"] if blocks.supports else [],
        triggers=[
            *_condition_triggers(diagnosis.cervical, "cervical-disorder"),
            *_procedures(blocks.supporting, "diagnostic-block"),
        ],
    )


DECLARATION = Recommendation(
    id=RecommendationId("suspected-confirm-diagnosis"),
    number="R12",
    order=40,
    moments=RECORD_REVIEW,
    judge=suspected_confirm_diagnosis,
    contract=CardContract(
        facts=("basis",), notes=("block-supports",), roles=("cervical-disorder", "diagnostic-block")
    ),
    suppressed_by=(OUT_OF_SCOPE_PEDIATRIC,),
    data_keys=PT_COURSE_KEYS,
)
