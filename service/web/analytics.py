"""Governance analytics: cards issued (shown and silent), feedback, override rates and modes, per recommendation.

``GET /analytics/recommendations`` (totals), ``GET /analytics/trends`` (per recommendation and content version,
by day and week, for a date range), ``GET /analytics/recommendations.csv`` (the same trend figures as CSV) and
``GET /analytics/governance`` (the modes in force and every change, with its time) are the data: admin token
when auth is required. ``GET /analytics/`` is a page that holds no data itself: its script asks for the token
and reads the JSON, so tokens never travel in URLs or server logs. ``GET /analytics/terminology.md`` / ``.csv`` is
the terminology review report (the same as ``cgh-cds terminology``), under the same admin-token rule.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from typing import Any

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import jsonify
from flask import render_template
from flask import request

from service.config import AuthMode
from service.errors import BadRequestError
from service.governance.terminology_report import ReportFormat
from service.governance.terminology_report import render as render_terminology_report
from service.invocation import Runtime
from service.store.repository import Trends
from service.web.admin import require_admin

bp = Blueprint("analytics", __name__, url_prefix="/analytics", template_folder="templates",
               static_folder="static", static_url_path="/static")

#: Default range of the trends: the last four weeks, today included.
DEFAULT_DAYS = 28
#: Longest range one request may ask for (two years of days).
MAX_DAYS = 731
#: Days a range may name (far from the calendar's ends, so day arithmetic never overflows).
EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2999, 12, 31)
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


@bp.get("/")
def page() -> str:
    runtime: Runtime = current_app.extensions["cgh_runtime"]
    return render_template("analytics.html", auth_required=runtime.settings.auth is AuthMode.REQUIRED)


_REPORT_TYPES = {
    ReportFormat.MARKDOWN: "text/markdown; charset=utf-8",
    ReportFormat.CSV: "text/csv; charset=utf-8",
}


def _terminology_report(report_format: ReportFormat) -> Response:
    runtime: Runtime = current_app.extensions["cgh_runtime"]
    require_admin(runtime, "analytics")
    body = render_terminology_report(report_format)
    response = Response(body, content_type=_REPORT_TYPES[report_format])
    response.headers["Content-Disposition"] = f'inline; filename="terminology-review.{report_format.value}"'
    return response


@bp.get("/terminology.md")
def terminology_markdown() -> Response:
    return _terminology_report(ReportFormat.MARKDOWN)


@bp.get("/terminology.csv")
def terminology_csv() -> Response:
    return _terminology_report(ReportFormat.CSV)


@bp.get("/recommendations")
def recommendations() -> Response:
    runtime: Runtime = current_app.extensions["cgh_runtime"]
    require_admin(runtime, "analytics")
    runtime.audit.flush()  # this worker's batched audit rows, so the figures include its latest cards
    figures = {row["recommendation"]: row for row in runtime.store.recommendation_summary()}
    rows: list[dict[str, Any]] = []
    for recommendation, content in runtime.cards.cards.items():
        row = figures.get(recommendation.value) or {
            "recommendation": recommendation.value, "cardsIssued": 0, "cardsSilent": 0, "accepted": 0,
            "overridden": 0, "overrideRate": None, "overrideReasons": {},
        }
        reasons = [
            {"code": code, "display": runtime.cards.override_reason_display(code) or code, "count": count}
            for code, count in sorted(row["overrideReasons"].items(), key=lambda item: -item[1])
        ]
        rows.append({**row, "title": content.title, "version": content.version,
                     "mode": runtime.governance.mode(recommendation.value, None).value, "overrideReasons": reasons})
    rows.sort(key=lambda r: (-r["cardsIssued"], r["recommendation"]))
    unverified = [{"citation": ev.label, "url": ev.url} for ev in runtime.cards.recalled_citations]
    return jsonify({"recommendations": rows, "unverifiedCitations": unverified})


@bp.get("/trends")
def trends() -> Response:
    runtime: Runtime = current_app.extensions["cgh_runtime"]
    require_admin(runtime, "analytics")
    return jsonify(_trend_figures(runtime))


@bp.get("/recommendations.csv")
def recommendations_csv() -> Response:
    runtime: Runtime = current_app.extensions["cgh_runtime"]
    require_admin(runtime, "analytics")
    figures = _trend_figures(runtime)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["recommendation", "version", "figure", "period", "key", "value"])
    for series in figures["series"]:
        head = [series["recommendation"], series["version"]]
        for day in series["daily"]:
            writer.writerow([*head, "cards_shown", day["day"], "", day["shown"]])
            writer.writerow([*head, "cards_silent", day["day"], "", day["silent"]])
        for week in series["weekly"]:
            writer.writerow([*head, "accepted", week["week"], "", week["accepted"]])
            writer.writerow([*head, "overridden", week["week"], "", week["overridden"]])
            rate = week["overrideRate"]
            writer.writerow([*head, "override_rate", week["week"], "", "" if rate is None else rate])
        for reason in series["overrideReasons"]:
            writer.writerow([*head, "override_reason", "", reason["code"], reason["count"]])
        for suggestion in series["suggestions"]:
            writer.writerow([*head, "suggestion_offered", "", suggestion["key"], suggestion["offered"]])
            writer.writerow([*head, "suggestion_accepted", "", suggestion["key"], suggestion["accepted"]])
    filename = f"cgh-recommendations-{figures['from']}-to-{figures['to']}.csv"
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.get("/governance")
def governance() -> Response:
    runtime: Runtime = current_app.extensions["cgh_runtime"]
    require_admin(runtime, "analytics")
    history = runtime.store.governance_history()
    previous: dict[str, Any] = {"site": {}, "clients": {}}
    for entry in history:
        entry["changes"] = _mode_changes(previous, entry["modes"])
        previous = entry["modes"]
    current = runtime.governance.as_json()
    return jsonify({
        "source": runtime.governance.source,
        "digest": runtime.governance.digest,
        "site": current["site"],
        "clients": current["clients"],
        "history": list(reversed(history)),
    })


def _mode_changes(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """What changed between two canonical mode sets: one entry per (client or site, recommendation)."""
    changes = []
    scopes: list[tuple[str | None, dict[str, str], dict[str, str]]] = [(None, before["site"], after["site"])]
    for iss in sorted(set(before["clients"]) | set(after["clients"])):
        scopes.append((iss, before["clients"].get(iss, {}), after["clients"].get(iss, {})))
    for client, old, new in scopes:
        for recommendation in sorted(set(old) | set(new)):
            was = old.get(recommendation, "active" if client is None else "(site)")
            now = new.get(recommendation, "active" if client is None else "(site)")
            if was != now:
                changes.append({"client": client, "recommendation": recommendation, "from": was, "to": now})
    return changes


def _date_range() -> tuple[date, date]:
    """``from`` and ``to`` (inclusive, YYYY-MM-DD, UTC days) of the query string; default the last 28 days.

    Every pair of valid days is answered, so that the contract (which cannot relate two parameters) states all
    the service enforces: ``from`` after ``to`` is read as the range between them, and a range longer than
    :data:`MAX_DAYS` keeps its last :data:`MAX_DAYS` days.

    :raises BadRequestError: a malformed or empty date, or one outside 2000-01-01 .. 2999-12-31.
    """
    today = datetime.now(UTC).date()

    def read(name: str, default: date) -> date:
        raw = request.args.get(name)
        if raw is None:
            return default
        try:
            day = date.fromisoformat(raw) if _ISO_DAY.fullmatch(raw) else None
        except ValueError:
            day = None
        if day is None or not EARLIEST_DAY <= day <= LATEST_DAY:
            raise BadRequestError(
                f"query parameter {name!r} must be a date as YYYY-MM-DD between {EARLIEST_DAY} and {LATEST_DAY}"
            )
        return day

    until = read("to", today)
    since = read("from", until - timedelta(days=DEFAULT_DAYS - 1))
    if since > until:
        since, until = until, since
    if (until - since).days + 1 > MAX_DAYS:
        since = until - timedelta(days=MAX_DAYS - 1)
    return since, until


def _trend_figures(runtime: Runtime) -> dict[str, Any]:
    since, until = _date_range()
    runtime.audit.flush()
    start = datetime.combine(since, time.min, tzinfo=UTC)
    end = datetime.combine(until + timedelta(days=1), time.min, tzinfo=UTC)
    figures = runtime.store.trends(start, end)
    days = [(since + timedelta(days=offset)).isoformat() for offset in range((until - since).days + 1)]
    weeks = sorted({_iso_week(date.fromisoformat(day)) for day in days})
    keys = _series_keys(runtime, figures)
    series = []
    for recommendation, version in keys:
        key = (recommendation, version)
        content = next((c for r, c in runtime.cards.cards.items() if r.value == recommendation), None)
        daily = figures.daily.get(key, {})
        weekly = figures.weekly.get(key, {})
        suggestions = figures.suggestions.get(key, {})
        series.append({
            "recommendation": recommendation,
            "version": version,
            "title": content.title if content else recommendation,
            "current": content is not None and content.version == version,
            "mode": runtime.governance.mode(recommendation, None).value,
            "daily": [{"day": day, "shown": daily.get(day, {}).get("active", 0),
                       "silent": daily.get(day, {}).get("silent", 0)} for day in days],
            "weekly": [_week_row(week, weekly.get(week, {})) for week in weeks],
            "overrideReasons": [
                {"code": code, "display": runtime.cards.override_reason_display(code) or code, "count": count}
                for code, count in sorted(figures.reasons.get(key, {}).items(), key=lambda item: (-item[1], item[0]))
            ],
            "suggestions": [
                {"key": name,
                 "label": content.suggestions[name].label if content and name in content.suggestions else name,
                 "offered": counts["offered"], "accepted": counts["accepted"],
                 "acceptanceRate": round(counts["accepted"] / counts["offered"], 4) if counts["offered"] else None}
                for name, counts in sorted(suggestions.items())
            ],
        })
    return {"from": since.isoformat(), "to": until.isoformat(), "days": days, "weeks": weeks, "series": series}


def _series_keys(runtime: Runtime, figures: Trends) -> list[tuple[str, str]]:
    """Every (recommendation, version) with figures in the range, and the current version of every card."""
    keys = {*figures.daily, *figures.weekly}
    keys.update((recommendation.value, content.version) for recommendation, content in runtime.cards.cards.items())
    return sorted(keys)


def _week_row(week: str, counts: dict[str, int]) -> dict[str, Any]:
    accepted, overridden = counts.get("accepted", 0), counts.get("overridden", 0)
    answered = accepted + overridden
    return {"week": week, "accepted": accepted, "overridden": overridden,
            "overrideRate": round(overridden / answered, 4) if answered else None}


def _iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"
