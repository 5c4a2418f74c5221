"""The rule of ``medication-symptomatic-only``: when it fires and what it hands to its card."""

from __future__ import annotations

from types import MappingProxyType

from service.pathway.advice import Advice
from service.pathway.advice import Indicator
from service.pathway.advice import RecommendationId
from service.pathway.declaration import CardContract
from service.pathway.declaration import Recommendation
from service.pathway.facts import Facts
from service.pathway.facts import OrderKind
from service.pathway.rules._common import ORDER_MOMENTS
from service.pathway.rules._common import _advice
from service.pathway.rules._common import _findings
from service.pathway.rules._common import _order_list
from service.pathway.rules._common import _orders


def medication_symptomatic_only(facts: Facts) -> Advice | None:
    """R8b ``medication-symptomatic-only`` (docs/clinical/reference.md §2.3 R8b, §2.5; revision 2 C10; FDA 2020 NSAID
    communication).

    When: an NSAID or paracetamol (not an opioid or butalbital combination, which R8 answers) is among the
    judged orders. Aspirin at <= 150 mg a day is not an analgesic order and never gets here.
    Then: info: symptomatic relief only. In pregnancy, warning for an NSAID at >= 20 weeks' gestation (note
    ``nsaid-pregnancy``, fact ``gest_weeks``) or when gestational age is not recorded (note
    ``nsaid-pregnancy-weeks-unknown``); aspirin of unknown strength is never that warning, only note
    ``aspirin-prophylaxis`` (continue if prescribed as prophylaxis).
    """
    combined = {OrderKind.OPIOID, OrderKind.BUTALBITAL}
    orders = tuple(o for o in facts.judged(OrderKind.NSAID, OrderKind.PARACETAMOL) if not combined & o.kinds)
    if not orders:
        return None
    pregnant = facts.pregnancy.pregnant
    weeks = facts.pregnancy.gest_weeks
    unknown_aspirin = [o for o in orders if OrderKind.ASPIRIN in o.kinds and o.aspirin_mg_per_day is None]
    nsaids = [o for o in orders if OrderKind.NSAID in o.kinds and o not in unknown_aspirin]
    from_weeks = facts.thresholds.nsaid_pregnancy_weeks
    nsaid_warning = pregnant and bool(nsaids) and (weeks is None or weeks >= from_weeks)
    values = {"medications": _order_list(orders)}
    notes: list[str] = []
    if nsaid_warning and weeks is not None:
        values["gest_weeks"] = str(weeks)
        notes.append("nsaid-pregnancy")
    elif nsaid_warning:
        notes.append("nsaid-pregnancy-weeks-unknown")
    if pregnant and unknown_aspirin:
        notes.append("aspirin-prophylaxis")
    pregnancy_triggers = _findings(facts.pregnancy.evidence, "pregnancy") if notes else []
    return _advice(
        facts,
        DECLARATION.id,
        Indicator.WARNING if nsaid_warning else Indicator.INFO,
        values=values,
        notes=notes,
        triggers=[*_orders(orders), *pregnancy_triggers],
        orders=orders,
    )


DECLARATION = Recommendation(
    id=RecommendationId("medication-symptomatic-only"),
    number="R8b",
    order=160,
    moments=ORDER_MOMENTS,
    judge=medication_symptomatic_only,
    contract=CardContract(
        facts=("medications",),
        notes=("nsaid-pregnancy", "nsaid-pregnancy-weeks-unknown", "aspirin-prophylaxis"),
        note_facts=MappingProxyType({"nsaid-pregnancy": ("gest_weeks",)}),
        roles=("pregnancy",),
    ),
)
