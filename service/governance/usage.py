"""Which rules use which value set, read from the pathway's own source (so nobody keeps a list by hand).

The pathway names its value sets only as ``ValueSetId.<MEMBER>`` (it holds no code literals; a unit test checks
every string constant against the value sets), so the dependencies can be followed in the syntax tree of
the ``facts`` and ``rules`` packages and ``engine.py``:

- a fact function uses the value sets it names, those of the functions and constants it names (transitively),
  and those of the order kinds it names;
- an order kind (``OrderKind.<KIND>``) uses the value sets paired with it in the order tables of the facts
  (``(ValueSetId.X, OrderKind.Y)`` tuples) and those of every ``if``/``for`` enclosing a statement that adds or
  removes it (``kinds.add(OrderKind.K)``, ``kinds -= {OrderKind.K}``), following the function's locals.
  Functions that classify orders are therefore not charged with every order value set: an order's value sets
  count for a rule only through the kinds the rule (or a fact it reads) names;
- a field of ``Facts`` uses what ``derive_facts`` computes it from (the call and the locals it is given);
  a ``Facts`` property or method uses the fields it reads;
- a rule (``RULES``) uses what its judge function reads (``facts.<field>``, kinds, helpers), transitively;
- ``engine.evaluate`` reads some facts for every rule (the R0 gate), and a rule is not run when a recommendation
  it names in ``suppressed_by`` suppresses it (that recommendation's ``suppresses_when`` reads facts): those
  rules are listed with "(engine)".

Only the syntax is read; nothing is evaluated. A value set reached only through code this does not follow
(e.g. ``getattr``) would be missed: ``tests/unit/governance/test_usage.py`` pins the known uses.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from functools import cache
from types import MappingProxyType
from types import ModuleType

from service.pathway import engine as engine_module
from service.pathway import facts as facts_module
from service.pathway import rules as rules_module
from service.pathway.declaration import Recommendation
from service.pathway.terminology import ValueSetId

_VALUE_SET_ENUM = "ValueSetId"
_KIND_ENUM = "OrderKind"
_FACTS_NAMES = frozenset({"facts", "self"})
_FACTS_CLASS = "Facts"
_DERIVE = "derive_facts"
_DECLARATION = "DECLARATION"


@dataclass(frozen=True, slots=True)
class RuleRef:
    """A rule as the review report names it: its number and recommendation id."""

    number: str
    recommendation: str
    #: How the rule uses the value set: "" when its judge reads it, "engine" when the engine gates it on it.
    via: str = ""

    @property
    def label(self) -> str:
        suffix = f" ({self.via})" if self.via else ""
        return f"{self.number} {self.recommendation}{suffix}"


@dataclass(slots=True)
class _Refs:
    value_sets: set[str] = field(default_factory=set)
    kinds: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)
    facts_attrs: set[str] = field(default_factory=set)


def _refs(node: ast.AST) -> _Refs:
    found = _Refs()
    for item in ast.walk(node):
        if isinstance(item, ast.Attribute) and isinstance(item.value, ast.Name):
            owner = item.value.id
            if owner == _VALUE_SET_ENUM and item.attr in ValueSetId.__members__:
                found.value_sets.add(ValueSetId[item.attr].value)
            elif owner == _KIND_ENUM:
                found.kinds.add(item.attr)
            elif owner in _FACTS_NAMES:
                found.facts_attrs.add(item.attr)
        elif isinstance(item, ast.Name):
            found.names.add(item.id)
    return found


def _top_level(tree: ast.Module) -> dict[str, ast.AST]:
    symbols: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            symbols[node.name] = node
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    symbols[target.id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            symbols[node.target.id] = node.value
    return symbols


def _parse(module: ModuleType) -> ast.Module:
    return ast.parse(inspect.getsource(module))


def _package_top_level(package: ModuleType) -> dict[str, ast.AST]:
    """The top-level symbols of a package and of every module in it (the facts: one module per job; the rules:
    one module per rule)."""
    symbols = _top_level(_parse(package))
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda item: item.name):
        symbols.update(_top_level(_parse(importlib.import_module(f"{package.__name__}.{info.name}"))))
    # Every rule module has one; the rules are followed from their judge functions instead.
    symbols.pop(_DECLARATION, None)
    return symbols


def _kind_pairs(node: ast.AST) -> list[tuple[str, str]]:
    """``(value set id, kind)`` of every ``(ValueSetId.X, OrderKind.Y)`` pair in ``node``."""
    pairs = []
    for item in ast.walk(node):
        if isinstance(item, ast.Tuple) and len(item.elts) == 2:
            first, second = (_refs(element) for element in item.elts)
            if len(first.value_sets) == 1 and not first.kinds and len(second.kinds) == 1 and not second.value_sets:
                pairs.append((next(iter(first.value_sets)), next(iter(second.kinds))))
    return pairs


def _changed_kinds(statement: ast.stmt) -> set[str]:
    """Kinds a statement adds or removes: ``<set>.add(OrderKind.K)`` or ``<set> -= / |= {OrderKind.K, ...}``."""
    if isinstance(statement, ast.AugAssign) and isinstance(statement.op, ast.Sub | ast.BitOr):
        return _refs(statement.value).kinds
    if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
        call = statement.value
        if isinstance(call.func, ast.Attribute) and call.func.attr == "add":
            return {kind for argument in call.args for kind in _refs(argument).kinds}
    return set()


def _guarded_kind_changes(function: ast.FunctionDef) -> list[tuple[set[str], list[ast.expr]]]:
    """Each kind-changing statement of ``function`` with the ``if`` tests and ``for`` iterables around it."""
    found: list[tuple[set[str], list[ast.expr]]] = []

    def visit(statements: list[ast.stmt], guards: list[ast.expr]) -> None:
        for statement in statements:
            kinds = _changed_kinds(statement)
            if kinds:
                found.append((kinds, guards))
            if isinstance(statement, ast.If | ast.While):
                visit(statement.body, [*guards, statement.test])
                visit(statement.orelse, [*guards, statement.test])
            elif isinstance(statement, ast.For | ast.AsyncFor):
                visit(statement.body, [*guards, statement.iter])
                visit(statement.orelse, guards)
            elif isinstance(statement, ast.With | ast.AsyncWith | ast.Try):
                visit(statement.body, guards)

    visit(function.body, [])
    return found


def _function_locals(function: ast.FunctionDef) -> dict[str, list[ast.expr]]:
    assigned: dict[str, list[ast.expr]] = {}
    for item in ast.walk(function):
        if isinstance(item, ast.Assign):
            for target in item.targets:
                if isinstance(target, ast.Name):
                    assigned.setdefault(target.id, []).append(item.value)
    return assigned


class _Analysis:
    """The closures of one reading of the pathway's source."""

    def __init__(self) -> None:
        self.facts = _package_top_level(facts_module)
        self.rules = _package_top_level(rules_module)
        self.engine = _top_level(_parse(engine_module))
        self.tables = {name for name, node in self.facts.items() if _kind_pairs(node) and name != _DERIVE}
        self.producers = {
            name
            for name, node in self.facts.items()
            if isinstance(node, ast.FunctionDef) and _guarded_kind_changes(node)
        }
        self.kind_sets: dict[str, set[str]] = {}
        for name in self.tables:
            for vs_id, kind in _kind_pairs(self.facts[name]):
                self.kind_sets.setdefault(kind, set()).add(vs_id)
        self.fields, self.locals = self._derivation()
        self.members = self._facts_members()
        self._memo: dict[tuple[str, str], frozenset[str]] = {}
        self._resolve_kinds()

    # -------------------------------------------------------------------------------------- order kinds

    def _resolve_kinds(self) -> None:
        """Kinds changed under an ``if``/``for`` use what its guards use (fixed point: guards may name kinds)."""
        tests: list[tuple[set[str], list[ast.expr], dict[str, list[ast.expr]]]] = []
        for name in self.producers:
            function = self.facts[name]
            assert isinstance(function, ast.FunctionDef)
            local_values = _function_locals(function)
            tests.extend((kinds, guards, local_values) for kinds, guards in _guarded_kind_changes(function))
        for _ in range(len(tests) + 1):
            changed = False
            for added, guards, local_values in tests:
                used: set[str] = set()
                for guard in guards:
                    used |= self._guard_uses(guard, local_values, set())
                for kind in added:
                    before = self.kind_sets.setdefault(kind, set())
                    if not used <= before:
                        before.update(used)
                        changed = True
            self._memo.clear()
            if not changed:
                break

    def _guard_uses(self, guard: ast.expr, local_values: dict[str, list[ast.expr]], seen: set[str]) -> set[str]:
        """What a guard uses, following the producer's locals to the expressions assigned to them."""
        refs = _refs(guard)
        outer = _Refs(refs.value_sets, refs.kinds, refs.names - set(local_values), set())
        used = self._uses(outer, "facts", frozenset())
        for name in (refs.names & set(local_values)) - seen:
            seen.add(name)
            for value in local_values[name]:
                used |= self._guard_uses(value, local_values, seen)
        return used

    # ------------------------------------------------------------------------------------------ facts

    def _derivation(self) -> tuple[dict[str, ast.expr], dict[str, ast.expr]]:
        derive = self.facts.get(_DERIVE)
        fields: dict[str, ast.expr] = {}
        locals_: dict[str, ast.expr] = {}
        if not isinstance(derive, ast.FunctionDef):
            return fields, locals_
        for item in ast.walk(derive):
            if isinstance(item, ast.Assign) and len(item.targets) == 1 and isinstance(item.targets[0], ast.Name):
                locals_[item.targets[0].id] = item.value
            elif (
                isinstance(item, ast.Call) and isinstance(item.func, ast.Name) and item.func.id == _FACTS_CLASS
            ):
                fields.update({keyword.arg: keyword.value for keyword in item.keywords if keyword.arg})
        return fields, locals_

    def _facts_members(self) -> dict[str, ast.AST]:
        facts_class = self.facts.get(_FACTS_CLASS)
        if not isinstance(facts_class, ast.ClassDef):
            return {}
        return {node.name: node for node in facts_class.body if isinstance(node, ast.FunctionDef)}

    # ---------------------------------------------------------------------------------------- closures

    def _uses(self, refs: _Refs, module: str, seen: frozenset[tuple[str, str]]) -> set[str]:
        used = set(refs.value_sets)
        for kind in refs.kinds:
            used |= self.kind_sets.get(kind, set())
        for attr in refs.facts_attrs:
            used |= self._closure("facts-attr", attr, seen)
        for name in refs.names:
            if module == "rules" and name in self.rules:
                used |= self._closure("rules", name, seen)
            elif module == "derive" and name in self.locals:
                used |= self._closure("derive", name, seen)
            elif name in self.facts:
                used |= self._closure("facts", name, seen)
        return used

    def _closure(self, module: str, name: str, seen: frozenset[tuple[str, str]]) -> frozenset[str]:
        key = (module, name)
        if key in self._memo:
            return self._memo[key]
        if key in seen:
            return frozenset()
        inner = seen | {key}
        result: set[str] = set()
        if module == "facts":
            if name not in self.tables and name not in self.producers and name not in (_DERIVE, _FACTS_CLASS):
                result = self._uses(_refs(self.facts[name]), "facts", inner)
        elif module == "rules":
            result = self._uses(_refs(self.rules[name]), "rules", inner)
        elif module == "derive":
            result = self._uses(_refs(self.locals[name]), "derive", inner)
        elif module == "facts-attr":
            if name in self.fields:
                result = self._uses(_refs(self.fields[name]), "derive", inner)
            elif name in self.members:
                result = self._uses(_refs(self.members[name]), "facts", inner)
        frozen = frozenset(result)
        self._memo[key] = frozen
        return frozen

    def judge_uses(self, function_name: str) -> frozenset[str]:
        if function_name not in self.rules:
            return frozenset()
        return self._closure("rules", function_name, frozenset())

    def engine_uses(self) -> list[frozenset[str]]:
        """The value sets of each test in ``engine.evaluate`` that reads the facts (the R0 gate, for every rule)."""
        found: list[frozenset[str]] = []
        for node in self.engine.values():
            for item in ast.walk(node):
                if not isinstance(item, ast.If):
                    continue
                used = frozenset(
                    value
                    for attr in _refs(item.test).facts_attrs
                    for value in self._closure("facts-attr", attr, frozenset())
                )
                if used:
                    found.append(used)
        return found


@cache
def rules_by_value_set() -> Mapping[str, tuple[RuleRef, ...]]:
    """Every value set id -> the rules that use it (direct uses first, in ``RULES`` order)."""
    analysis = _Analysis()
    found: dict[str, dict[RuleRef, None]] = {member.value: {} for member in ValueSetId}
    for rule in rules_module.RULES:
        ref = RuleRef(rule.number, rule.id.value)
        for vs_id in analysis.judge_uses(rule.judge.__name__):
            found.setdefault(vs_id, {})[ref] = None

    def gated(rules: Iterable[Recommendation], used: frozenset[str]) -> None:
        for rule in rules:
            for vs_id in used:
                if RuleRef(rule.number, rule.id.value) not in found.setdefault(vs_id, {}):
                    found[vs_id][RuleRef(rule.number, rule.id.value, "engine")] = None

    for used in analysis.engine_uses():
        gated(rules_module.RULES, used)
    for suppressor in rules_module.RULES:
        if suppressor.suppresses_when is not None:
            suppressed = [rule for rule in rules_module.RULES if suppressor.id in rule.suppressed_by]
            gated(suppressed, analysis.judge_uses(suppressor.suppresses_when.__name__))
    return MappingProxyType({vs_id: tuple(refs) for vs_id, refs in found.items()})


def rule_labels(refs: Iterable[RuleRef]) -> list[str]:
    return [ref.label for ref in refs]
