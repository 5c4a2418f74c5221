"""The rule of ``red-flags``: when it fires and what it hands to its card."""

from __future__ import annotations

from service.pathway.advice import Advice
from service.pathway.advice import Indicator
from service.pathway.advice import RecommendationId
from service.pathway.declaration import CardContract
from service.pathway.declaration import Recommendation
from service.pathway.facts import HEAD_INJURY
from service.pathway.facts import NEW_ONSET_OLDER_ADULT
from service.pathway.facts import PREGNANCY_NEW_HEADACHE
from service.pathway.facts import TRAUMA
from service.pathway.facts import Facts
from service.pathway.rules._common import ALL_MOMENTS
from service.pathway.rules._common import _advice
from service.pathway.rules._common import _findings
from service.pathway.rules._common import _join

#: Red-flag categories -> red-flags card notes (declared below).
_RED_FLAG_NOTES: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"dissection"}), "dissection-suspected"),
    (frozenset({NEW_ONSET_OLDER_ADULT}), "new-onset-older-adult"),
    (frozenset({PREGNANCY_NEW_HEADACHE}), "pregnancy-new-headache"),
    (frozenset({TRAUMA}), "post-traumatic"),
    (frozenset({HEAD_INJURY}), "head-injury"),
    (frozenset({"neurologic-deficit", "stroke", "vertebrobasilar"}), "neurologic-deficit"),
)


def red_flags(facts: Facts) -> Advice | None:
    """R2 ``red-flags`` (docs/clinical/reference.md §2.3 R2, §2.2 red_flags, §1.8).

    When: CGH is active and any red flag is present (dissection or vascular imaging ordered, neurological
    deficit, recent neck trauma, malignancy, infection, systemic signs, immunosuppression, GCA, raised ICP,
    myelopathy, instability, new onset past the age threshold, pregnancy with a new headache).
    Then: critical: evaluate secondary causes first and hold manipulation; escalation cards (R5, R9-R11) and
    imaging-not-indicated are suppressed.
    """
    if not facts.red_flags:
        return None
    categories = {finding.category for finding in facts.red_flags}
    notes = [note for kinds, note in _RED_FLAG_NOTES if kinds & categories]
    return _advice(
        facts,
        DECLARATION.id,
        Indicator.CRITICAL,
        values={"red_flags": _join((f.label for f in facts.red_flags), "; ")},
        notes=notes,
        triggers=_findings(facts.red_flags, "red-flag"),
    )


def any_red_flag(facts: Facts) -> bool:
    """R2: a red flag suppresses escalation (R5, R9, R10, R11) and imaging-not-indicated (R4)."""
    return bool(facts.red_flags)


DECLARATION = Recommendation(
    id=RecommendationId("red-flags"),
    number="R2",
    order=20,
    moments=ALL_MOMENTS,
    judge=red_flags,
    contract=CardContract(
        facts=("red_flags",),
        notes=(
            "dissection-suspected",
            "new-onset-older-adult",
            "pregnancy-new-headache",
            "post-traumatic",
            "head-injury",
            "neurologic-deficit",
        ),
        roles=("red-flag",),
    ),
    suppresses_when=any_red_flag,
    data_keys=frozenset({"observations", "servicerequests"}),
)
