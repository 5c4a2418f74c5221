"""Outgoing CDS Hooks 2.0 messages, checked strictly: every card we send must pass :func:`response_problems`.

The rules are those of CDS Hooks 2.0 §Card/Suggestion/Action/Link and the checks real validators (Inferno)
apply: summary under 140 characters, ``selectionBehavior`` whenever there are suggestions, ``display`` on
every override reason, ``resourceId`` on delete actions, and no ``null`` or empty value anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from service.protocol.enums import ActionType
from service.protocol.enums import Indicator
from service.protocol.enums import LinkType
from service.protocol.enums import SelectionBehavior

SUMMARY_MAX = 139
_RELATIVE_REF = re.compile(r"^[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}$")
_INDICATORS = {i.value for i in Indicator}
_BEHAVIOURS = {b.value for b in SelectionBehavior}
_ACTIONS = {a.value for a in ActionType}
_LINK_TYPES = {t.value for t in LinkType}


def response_problems(body: Any) -> list[str]:
    """Every way ``body`` departs from a valid CDS Hooks 2.0 service response (empty list: valid)."""
    problems: list[str] = []
    if not isinstance(body, Mapping) or not isinstance(body.get("cards"), list):
        return ["response must be an object with a 'cards' array"]
    problems.extend(_empty_values(body, "$"))
    seen_uuids: set[str] = set()
    for index, card in enumerate(body["cards"]):
        problems.extend(card_problems(card, f"cards[{index}]", seen_uuids))
    if "systemActions" in body:
        problems.extend(_array_problems(body["systemActions"], "systemActions", _action_problems))
    return problems


def card_problems(card: Any, where: str, seen_uuids: set[str] | None = None) -> list[str]:
    if not isinstance(card, Mapping):
        return [f"{where} must be an object"]
    problems: list[str] = []
    uuid = card.get("uuid")
    if not isinstance(uuid, str) or not uuid:
        problems.append(f"{where}.uuid is required (feedback needs it)")
    elif seen_uuids is not None:
        if uuid in seen_uuids:
            problems.append(f"{where}.uuid {uuid} is not unique in the response")
        seen_uuids.add(uuid)
    summary = card.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        problems.append(f"{where}.summary is required")
    elif len(summary) > SUMMARY_MAX:
        problems.append(f"{where}.summary has {len(summary)} characters; it must be under 140")
    if card.get("indicator") not in _INDICATORS:
        problems.append(f"{where}.indicator must be one of {sorted(_INDICATORS)}")
    if "detail" in card and not isinstance(card["detail"], str):
        problems.append(f"{where}.detail must be a markdown string")
    source = card.get("source")
    if not isinstance(source, Mapping) or not isinstance(source.get("label"), str):
        problems.append(f"{where}.source.label is required")
    else:
        if "url" in source and not _is_absolute_url(source["url"]):
            problems.append(f"{where}.source.url must be an absolute URL")
        topic = source.get("topic")
        if not isinstance(topic, Mapping) or not topic.get("system") or not topic.get("code"):
            problems.append(f"{where}.source.topic must carry system and code (the recommendation id)")
    suggestions = card.get("suggestions")
    if suggestions is not None:
        if isinstance(suggestions, list) and suggestions and card.get("selectionBehavior") not in _BEHAVIOURS:
            problems.append(f"{where}.selectionBehavior is required with suggestions")
        problems.extend(_array_problems(suggestions, f"{where}.suggestions", _suggestion_problems))
    for index, reason in enumerate(card.get("overrideReasons") or []):
        if not isinstance(reason, Mapping) or not all(
            isinstance(reason.get(k), str) and reason.get(k) for k in ("code", "system", "display")
        ):
            problems.append(f"{where}.overrideReasons[{index}] needs code, system and display")
    for index, link in enumerate(card.get("links") or []):
        problems.extend(_link_problems(link, f"{where}.links[{index}]"))
    return problems


def _suggestion_problems(suggestion: Any, where: str) -> list[str]:
    if not isinstance(suggestion, Mapping):
        return [f"{where} must be an object"]
    problems = []
    if not isinstance(suggestion.get("label"), str) or not suggestion["label"]:
        problems.append(f"{where}.label is required")
    actions = suggestion.get("actions")
    if actions is not None:
        problems.extend(_array_problems(actions, f"{where}.actions", _action_problems))
    return problems


def _action_problems(action: Any, where: str) -> list[str]:
    if not isinstance(action, Mapping):
        return [f"{where} must be an object"]
    problems = []
    kind = action.get("type")
    if kind not in _ACTIONS:
        problems.append(f"{where}.type must be one of {sorted(_ACTIONS)}")
    if not isinstance(action.get("description"), str) or not action["description"]:
        problems.append(f"{where}.description is required")
    if kind in {"create", "update"}:
        resource = action.get("resource")
        if not isinstance(resource, Mapping) or not resource.get("resourceType"):
            problems.append(f"{where}.resource must be a FHIR resource for {kind}")
    if kind == "delete":
        ref = action.get("resourceId")
        if not isinstance(ref, str) or not _RELATIVE_REF.match(ref):
            problems.append(f"{where}.resourceId must be a relative reference 'Type/id' for delete")
    return problems


def _link_problems(link: Any, where: str) -> list[str]:
    if not isinstance(link, Mapping):
        return [f"{where} must be an object"]
    problems = []
    if not isinstance(link.get("label"), str) or not link["label"]:
        problems.append(f"{where}.label is required")
    if not _is_absolute_url(link.get("url")):
        problems.append(f"{where}.url must be an absolute http(s) URL")
    if link.get("type") not in _LINK_TYPES:
        problems.append(f"{where}.type must be 'absolute' or 'smart'")
    if link.get("type") == "absolute" and "appContext" in link:
        problems.append(f"{where}.appContext is only valid on smart links")
    return problems


def _array_problems(items: Any, where: str, item_problems: Callable[[Any, str], list[str]]) -> list[str]:
    """An array that is present: it must not be empty, and each item is checked by ``item_problems``."""
    if not isinstance(items, list) or not items:
        return [f"{where} must be a non-empty array when present"]
    return [problem for index, item in enumerate(items) for problem in item_problems(item, f"{where}[{index}]")]


def _is_absolute_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in {"http", "https"} and bool(parts.netloc)


def _empty_values(node: Any, path: str) -> list[str]:
    """CDS Hooks 2.0: no null, "" , [] or {} values (the top-level cards array may be empty)."""
    problems: list[str] = []
    if isinstance(node, Mapping):
        for key, value in node.items():
            child = f"{path}.{key}"
            if value is None or value == "" or value == [] or value == {}:
                if child != "$.cards":
                    problems.append(f"{child} is null or empty; omit it instead")
            else:
                problems.extend(_empty_values(value, child))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            problems.extend(_empty_values(value, f"{path}[{index}]"))
    return problems
