"""The advice catalogue (``service/pathway/CATALOGUE.md``) as data: what each recommendation's card may use.

The card loader checks every card file against this table at start-up (a template may use only the facts
listed for its id; every listed note needs text; every trigger role a rule uses needs a label; every
suggestion a rule may request needs a label), and the renderer checks each ``Advice`` against it.
Keep it in step with ``CATALOGUE.md``: the two are the same contract, one for people and one for code.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from types import MappingProxyType
from typing import Final

from service.pathway.advice import RecommendationId as R
from service.pathway.advice import SuggestionKind

#: Trigger roles any card may receive (CATALOGUE.md: "Trigger roles common to all cards").
COMMON_ROLES: Final = ("diagnosis", "drafted-order")

#: Suggestion keys: how the renderer names the suggestions it can build, and the content keys that label them.
CREATE_PT_REFERRAL: Final = "create-pt-referral"
DELETE_ORDERS: Final = "delete-orders"
DELETE_ORDERS_WITH_PT_REFERRAL: Final = "delete-orders-with-pt-referral"
REPLACE_WITH_PT_REFERRAL: Final = "replace-with-pt-referral"
CREATE_GON_BLOCK: Final = "create-gon-block"


@dataclass(frozen=True, slots=True)
class CardContract:
    """What the rule for one recommendation id hands to its card."""

    #: ``Advice.facts`` keys the rule always supplies.
    facts: tuple[str, ...] = ()
    #: ``Advice.notes`` the rule may add, in the order their paragraphs appear.
    notes: tuple[str, ...] = ()
    #: Extra facts present only together with a note (usable only in that note's text).
    note_facts: MappingProxyType[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    #: Trigger roles the rule uses besides :data:`COMMON_ROLES`.
    roles: tuple[str, ...] = ()
    #: Suggestion kinds the rule may request.
    suggestions: tuple[SuggestionKind, ...] = ()

    @property
    def all_roles(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*COMMON_ROLES, *self.roles)))

    @property
    def suggestion_keys(self) -> tuple[str, ...]:
        """The content keys (labels) the card must define for the suggestions it can carry."""
        return tuple(dict.fromkeys(key for kinds in _reachable(self.suggestions) for key in plan(kinds)))


def plan(kinds: tuple[SuggestionKind, ...] | frozenset[SuggestionKind]) -> tuple[str, ...]:
    """The suggestions (by key) a card offers for the requested ``kinds``, most recommended first.

    Semantics: a PT referral requested together with order deletion is offered as one combined suggestion
    (delete + create) with the deletion alone as the alternative; a replacement already creates the PT
    referral, so a separate PT referral request is absorbed by it.
    """
    requested = frozenset(kinds)
    keys: list[str] = []
    if SuggestionKind.REPLACE_WITH_PT_REFERRAL in requested:
        keys.append(REPLACE_WITH_PT_REFERRAL)
    if SuggestionKind.DELETE_ORDERS in requested:
        if SuggestionKind.CREATE_PT_REFERRAL in requested and not keys:
            keys.append(DELETE_ORDERS_WITH_PT_REFERRAL)
        keys.append(DELETE_ORDERS)
    elif SuggestionKind.CREATE_PT_REFERRAL in requested and not keys:
        keys.append(CREATE_PT_REFERRAL)
    if SuggestionKind.CREATE_GON_BLOCK in requested:
        keys.append(CREATE_GON_BLOCK)
    return tuple(keys)


def _reachable(allowed: tuple[SuggestionKind, ...]) -> list[tuple[SuggestionKind, ...]]:
    """The kind combinations a rule can request: each allowed kind alone, and all of them together.

    A PT referral on a card that deletes orders is only ever requested with the deletion (CATALOGUE.md:
    "delete-orders (+ create-pt-referral when no PT yet)"), so it is not reachable alone there.
    """
    combos: list[tuple[SuggestionKind, ...]] = [tuple(allowed)] if allowed else []
    for kind in allowed:
        if kind is SuggestionKind.CREATE_PT_REFERRAL and SuggestionKind.DELETE_ORDERS in allowed:
            continue
        combos.append((kind,))
    return combos


_K = SuggestionKind

#: CATALOGUE.md, one row per recommendation id.
CONTRACTS: Final[MappingProxyType[R, CardContract]] = MappingProxyType(
    {
        R.OUT_OF_SCOPE_PEDIATRIC: CardContract(facts=("age",)),
        R.RED_FLAGS: CardContract(
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
        R.DIFFERENTIAL_DIAGNOSIS: CardContract(
            facts=("differentials",), notes=("orthostatic", "medication-overuse", "migraine"), roles=("differential",)
        ),
        R.SUSPECTED_CONFIRM_DIAGNOSIS: CardContract(
            facts=("basis",), notes=("block-supports",), roles=("cervical-disorder", "diagnostic-block")
        ),
        R.PT_FIRST_LINE: CardContract(
            notes=("prior-block", "escalation-ordered", "other-region"),
            roles=("prior-procedure",),
            suggestions=(_K.CREATE_PT_REFERRAL,),
        ),
        R.PT_TRIAL_IN_PROGRESS: CardContract(
            facts=("pt_weeks", "pt_sessions", "pt_first", "pt_last", "min_weeks", "min_sessions"),
            notes=("stopped", "region-not-documented", "exercise-not-documented"),
            roles=("pt-session",),
        ),
        R.PT_DOCUMENT_RESPONSE: CardContract(
            facts=("pt_weeks", "pt_sessions"),
            notes=("course-completed", "region-not-documented", "no-outcome", "exercise-not-documented"),
            roles=("pt-session", "pt-referral"),
        ),
        R.ESCALATE_OCCIPITAL_NERVE_BLOCK: CardContract(
            facts=("pt_weeks", "pt_sessions", "response"),
            notes=("exercise-not-documented",),
            roles=("pt-session", "outcome"),
            suggestions=(_K.CREATE_GON_BLOCK,),
        ),
        R.ESCALATE_PERCUTANEOUS: CardContract(
            facts=("block_date", "response"), notes=("anticoagulated",), roles=("prior-procedure", "outcome")
        ),
        R.REFRACTORY_OPTIONS: CardContract(facts=("response",), roles=("prior-procedure", "outcome")),
        R.IMAGING_NOT_INDICATED: CardContract(
            facts=("orders",),
            notes=("no-pt-yet",),
            suggestions=(_K.DELETE_ORDERS, _K.CREATE_PT_REFERRAL),
        ),
        R.IMAGING_RED_FLAG_APPROPRIATE: CardContract(
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
        R.MANIPULATION_CONTRAINDICATED: CardContract(
            facts=("reasons", "orders", "manipulation"),
            notes=("absolute", "relative", "workup", "other-region"),
            roles=("contraindication", "red-flag"),
            suggestions=(_K.REPLACE_WITH_PT_REFERRAL,),
        ),
        R.MANIPULATION_RISK: CardContract(facts=("orders", "manipulation")),
        R.MEDICATION_OPIOID: CardContract(facts=("medications",), notes=("codeine-tramadol-child", "butalbital")),
        R.MEDICATION_SYMPTOMATIC_ONLY: CardContract(
            facts=("medications",),
            notes=("nsaid-pregnancy", "nsaid-pregnancy-weeks-unknown", "aspirin-prophylaxis"),
            note_facts=MappingProxyType({"nsaid-pregnancy": ("gest_weeks",)}),
            roles=("pregnancy",),
        ),
        R.ESCALATION_PREMATURE: CardContract(
            facts=("orders", "missing"),
            notes=("current-step-working", "gon-block", "percutaneous", "refractory"),
            note_facts=MappingProxyType({"current-step-working": ("latest_response",)}),
            roles=("pt-session", "prior-procedure", "outcome"),
        ),
        R.BOTULINUM_PREGNANCY: CardContract(facts=("orders",), roles=("pregnancy",)),
    }
)
