"""The ``cgh-cds`` command line: serve, check, evaluate, replay, terminology, catalogue."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from service.commands.card_text import card_lines
from service.config import ProcessSettings
from service.content import cards_dir
from service.content import fixtures_dir
from service.content import openapi_path
from service.errors import ConfigError
from service.errors import StartupError


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cgh-cds", description="Cervicogenic headache CDS Hooks service")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the service under gunicorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--workers", type=int, default=None, help="worker processes (default: one per core)")
    serve.add_argument("--threads", type=int, default=4, help="threads per worker")
    serve.add_argument("--max-requests", type=int, default=None,
                       help="recycle a worker after this many requests, 0 = never (default: CGH_MAX_REQUESTS or 0)")
    serve.add_argument("--max-requests-jitter", type=int, default=None,
                       help="random extra requests per worker before it is recycled (default: a tenth of "
                            "--max-requests, or CGH_MAX_REQUESTS_JITTER)")
    serve.add_argument("--graceful-timeout", type=int, default=None,
                       help="seconds a stopping worker has to finish its requests (default: "
                            "CGH_GRACEFUL_TIMEOUT_S or 10)")
    serve.add_argument("--drain-seconds", type=float, default=None,
                       help="on SIGTERM, seconds /readyz answers 503 before the graceful stop (default: "
                            "CGH_DRAIN_S or 5)")

    commands.add_parser("check", help="validate cards/, value sets, fixtures and openapi.yaml")

    db = commands.add_parser("db", help="the database schema (Alembic migrations), at CGH_DATABASE_URL")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="migrate the database to the newest revision (run once, before replicas)")
    db_commands.add_parser("current", help="print the database's revision and the newest one")

    evaluate = commands.add_parser("evaluate", help="evaluate a fixture or hook request in-process")
    evaluate.add_argument("files", nargs="*", type=Path,
                          help="hook requests or fixtures; a path that does not exist is looked up among the "
                               "packaged fixtures (e.g. pt-first-line/<name>.json)")
    evaluate.add_argument("--service", help="service id (required for a bare hook request)")
    evaluate.add_argument(
        "--today",
        type=date.fromisoformat,
        help="evaluate as of this date (YYYY-MM-DD): the pathway's today, ages and look-backs; a fixture's dates "
        "are moved to it (default: the real date)",
    )
    evaluate.add_argument("--json", action="store_true", help="print the raw CDS Hooks response")
    _add_bundle_arguments(evaluate, required=False)

    replay = commands.add_parser("replay", help="replay fixtures against a running service and check the cards")
    replay.add_argument("paths", nargs="*", type=Path, help="fixture files or folders (default: the packaged ones)")
    replay.add_argument("--url", required=True, help="base URL of the running service, e.g. http://127.0.0.1:8080")
    replay.add_argument("--jwt-key", type=Path, help="PEM private key to sign a fresh client JWT per request")
    replay.add_argument("--jwt-iss", help="issuer of the signed JWTs")
    replay.add_argument("--jwt-kid", help="kid of the signing key")
    replay.add_argument("--jwt-alg", default="ES384", choices=["ES384", "RS384"])
    replay.add_argument("--timeout", type=float, default=10.0)
    replay.add_argument("--junit", type=Path, help="write the results as JUnit XML to this file (for CI systems)")

    fixture = commands.add_parser("fixture", help="write fixtures from your own FHIR data")
    fixture_commands = fixture.add_subparsers(dest="fixture_command", required=True)
    fixture_new = fixture_commands.add_parser(
        "new", help="snapshot the cards a Bundle's patient gets now as a fixture to review")
    _add_bundle_arguments(fixture_new, required=True)
    fixture_new.add_argument("--out", type=Path, required=True, help="the fixture file to write")
    fixture_new.add_argument("--today", type=date.fromisoformat,
                             help="evaluate as of this date (YYYY-MM-DD), the fixture's referenceDate")
    fixture_new.add_argument("--title", help="the fixture's title (default: names the bundle and patient)")
    fixture_new.add_argument("--patient-id", help="only this patient of the bundle")
    fixture_new.add_argument("--force", action="store_true", help="overwrite an existing file")

    population = commands.add_parser(
        "population", help="how many patients of a population each recommendation would fire for (dry run)")
    population.add_argument("--bundles", type=Path, required=True,
                            help="a folder of patient Bundles (*.json) or of Bulk Data NDJSON files")
    population.add_argument("--hook", required=True, help="the hook or service id to evaluate")
    population.add_argument("--workers", type=int, default=None, help="processes (default: one per core)")
    population.add_argument("--csv", type=Path, help="write the per-recommendation figures as CSV")
    population.add_argument("--today", type=date.fromisoformat, help="evaluate as of this date (YYYY-MM-DD)")
    population.add_argument("--draft", type=Path, action="append", help="a drafted order for the order hooks")
    population.add_argument("--draft-code", action="append", metavar="SYSTEM|CODE",
                            help="a drafted order coded SYSTEM|CODE for the order hooks")
    population.add_argument("--quiet", action="store_true", help="no progress bar")

    terminology = commands.add_parser(
        "terminology", help="the terminology review report: every value-set concept, its confidence and its rules"
    )
    terminology.add_argument("--format", choices=["md", "csv"], default="md", dest="report_format")
    terminology.add_argument("--output", type=Path, help="write the report to this file (default: standard output)")

    catalogue = commands.add_parser(
        "catalogue", help="the advice catalogue (what each rule hands to its card), from the rules' declarations"
    )
    catalogue.add_argument("--output", type=Path, help="write it to this file (default: standard output)")

    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "check":
            return _check()
        if args.command == "db":
            return _db(args)
        if args.command == "evaluate":
            return _evaluate(args)
        if args.command == "terminology":
            return _terminology(args)
        if args.command == "catalogue":
            return _catalogue(args)
        if args.command == "population":
            from service.commands import population as population_command

            return population_command.run(args)
        if args.command == "fixture":
            from service.commands import fixture_new as fixture_new_command

            return fixture_new_command.run(args)
        return _replay(args)
    except StartupError as exc:
        print(f"cgh-cds: {exc}", file=sys.stderr)
        return 2


def _catalogue(args: argparse.Namespace) -> int:
    from service.pathway.catalogue import catalogue_markdown

    text = catalogue_markdown()
    if args.output is not None:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def _serve(args: argparse.Namespace) -> int:
    from service import create_app
    from service.config import Settings
    from service.gunicorn_app import default_workers
    from service.gunicorn_app import serve
    from service.invocation import warm_up

    # Validate settings and content once in the parent so a bad value stops start-up with a clear message.
    settings = Settings.from_env()
    process = _process_settings(args, ProcessSettings.from_env())
    _require_current_schema(settings)

    def factory() -> Any:
        app = create_app(settings)
        warm_up(app)
        return app

    serve(factory, host=args.host, port=args.port, workers=args.workers or default_workers(),
          threads=args.threads, process=process)
    return 0


def _process_settings(args: argparse.Namespace, from_env: ProcessSettings) -> ProcessSettings:
    """The ``CGH_*`` process settings, with the command line's options on top."""
    given = {  # field: (option, value)
        "max_requests": ("--max-requests", args.max_requests),
        "max_requests_jitter": ("--max-requests-jitter", args.max_requests_jitter),
        "graceful_timeout": ("--graceful-timeout", args.graceful_timeout),
        "drain_s": ("--drain-seconds", args.drain_seconds),
    }
    overrides = {name: value for name, (_, value) in given.items() if value is not None}
    for name, value in overrides.items():
        if value < 0 or (name == "graceful_timeout" and value == 0):
            lowest = "1" if name == "graceful_timeout" else "0"
            raise ConfigError(f"{given[name][0]}={value:g} is out of range: give {lowest} or more.")
    return dataclasses.replace(from_env, **overrides)


def _database(settings: Any) -> Any:
    from service.store.repository import make_engine

    return make_engine(settings.effective_database_url)


def _require_current_schema(settings: Any) -> None:
    """Refuse to serve an out-of-date schema before gunicorn starts (its error would be buried in a worker)."""
    from service.store.schema import prepare_schema

    engine = _database(settings)
    try:
        prepare_schema(engine)
    finally:
        engine.dispose()


def _db(args: argparse.Namespace) -> int:
    from service.config import Settings
    from service.store.schema import current_revision
    from service.store.schema import head_revision
    from service.store.schema import upgrade

    # Migrating needs only the database: a migration Job or compose's `migrate` service has no trusted-clients
    # file or other serving settings (the image sets CGH_AUTH=required), so only these two are read.
    environ = {name: os.environ[name] for name in ("CGH_DATABASE_URL", "CGH_INSTANCE_PATH") if name in os.environ}
    settings = Settings.from_env({**environ, "CGH_AUTH": "off"})
    engine = _database(settings)
    try:
        if args.db_command == "upgrade":
            before, after = upgrade(engine)
            print(f"database: {before or 'empty'} -> {after} (newest: {head_revision()})")
            return 0
        current, head = current_revision(engine), head_revision()
        verdict = "up to date" if current == head else "needs: cgh-cds db upgrade"
        print(f"database: {current or 'none'}; newest: {head}; {verdict}")
        return 0 if current == head else 1
    finally:
        engine.dispose()


def _check() -> int:
    import yaml
    from openapi_spec_validator import validate

    from service.pathway.terminology import load_value_sets
    from service.render import load_card_library
    from service.scenarios import iter_scenarios

    library = load_card_library(cards_dir())
    print(f"cards: {len(library)} recommendation definitions valid")
    value_sets = load_value_sets()
    print(f"value sets: {len(value_sets)} valid")
    validate(yaml.safe_load(openapi_path().read_text(encoding="utf-8")))
    print("openapi.yaml: valid OpenAPI")
    scenarios = list(iter_scenarios(fixtures_dir()))
    print(f"fixtures: {len(scenarios)} scenarios load")
    return 0


def _add_bundle_arguments(parser: argparse.ArgumentParser, *, required: bool) -> None:
    """``--bundle FILE --hook HOOK [--draft FILE] [--draft-code SYSTEM|CODE]``: a patient's own FHIR data."""
    parser.add_argument("--bundle", type=Path, required=required,
                        help="a FHIR Bundle (transaction, batch, collection, searchset) or a folder of Bulk Data "
                             "NDJSON files: each patient in it is evaluated")
    parser.add_argument("--hook", required=required,
                        help="the hook (patient-view, encounter-start, order-select, order-sign) or a service id")
    parser.add_argument("--draft", type=Path, action="append",
                        help="a drafted order (a FHIR resource or a Bundle of them) for the order hooks; repeatable")
    parser.add_argument("--draft-code", action="append", metavar="SYSTEM|CODE",
                        help="a drafted order coded SYSTEM|CODE (RxNorm: a MedicationRequest, else a "
                             "ServiceRequest); repeatable")


def _terminology(args: argparse.Namespace) -> int:
    from service.governance.terminology_report import ReportFormat
    from service.governance.terminology_report import render

    report = render(ReportFormat(args.report_format))
    if args.output is None:
        sys.stdout.write(report)
    else:
        args.output.write_text(report, encoding="utf-8")
        print(f"terminology report written to {args.output}", file=sys.stderr)
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    if args.bundle is not None or args.hook is not None:
        from service.commands import evaluate_bundle

        if args.bundle is None or args.hook is None or args.files:
            print("cgh-cds evaluate: give --bundle FILE with --hook HOOK (and no fixture files)", file=sys.stderr)
            return 2
        return evaluate_bundle.run(args)
    if not args.files:
        print("cgh-cds evaluate: give fixture or hook-request files, or --bundle FILE --hook HOOK", file=sys.stderr)
        return 2
    from service import create_app
    from service.config import AuthMode
    from service.config import Settings
    from service.scenarios import check_response
    from service.scenarios import load_scenario

    today = args.today or date.today()
    failures = 0
    with tempfile.TemporaryDirectory(prefix="cgh-cds-evaluate-") as tmp:
        settings = Settings(auth=AuthMode.OFF, database_url=f"sqlite:///{tmp}/evaluate.sqlite3",
                            instance_path=Path(tmp), today=today)
        client = create_app(settings).test_client()
        for given in args.files:
            path = given if given.exists() or given.is_absolute() else fixtures_dir() / given
            raw = orjson.loads(path.read_bytes())
            if "request" in raw and "expect" in raw:
                scenario = load_scenario(path).rolled_to(today)
                service_id, request = scenario.service, scenario.request
            else:
                if not args.service:
                    print(f"{path}: a bare hook request needs --service", file=sys.stderr)
                    return 2
                scenario, service_id, request = None, args.service, raw
            response = client.post(f"/cds-services/{service_id}", json=request)
            body = response.get_json(silent=True)
            if args.json:
                print(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode())
            else:
                print(_readable(path, service_id, response.status_code, body))
            if scenario is not None:
                problems = check_response(scenario, response.status_code, body)
                failures += bool(problems)
                print("  expectation: " + ("PASS" if not problems else "FAIL\n    - " + "\n    - ".join(problems)))
    return 1 if failures else 0


def _readable(path: Path, service_id: str, status: int, body: Any) -> str:
    lines = [f"== {path} -> {service_id}: HTTP {status}"]
    if status != 200 or not isinstance(body, dict):
        lines.append(f"  {body}")
        return "\n".join(lines)
    if not body.get("cards"):
        lines.append("  (no cards: no guidance for this patient)")
    for card in body.get("cards", []):
        lines.extend(card_lines(card))
        for suggestion in card.get("suggestions", []):
            actions = ", ".join(
                f"{a['type']} {a.get('resourceId') or a.get('resource', {}).get('resourceType', '')}"
                for a in suggestion.get("actions", [])
            )
            lines.append(f"    > suggestion: {suggestion['label']} ({actions})")
    return "\n".join(lines)


def _replay(args: argparse.Namespace) -> int:
    from service.commands import replay

    signer = _jwt_signer(args) if args.jwt_key else None
    return replay.run(args, fixtures_dir(), signer)


def _jwt_signer(args: argparse.Namespace) -> Any:
    import jwt

    key = args.jwt_key.read_bytes()
    if not args.jwt_iss or not args.jwt_kid:
        raise SystemExit("--jwt-key needs --jwt-iss and --jwt-kid")

    def sign(audience: str) -> str:
        now = int(time.time())
        claims = {"iss": args.jwt_iss, "aud": audience, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())}
        return jwt.encode(claims, key, algorithm=args.jwt_alg, headers={"kid": args.jwt_kid, "typ": "JWT"})

    return sign


if __name__ == "__main__":
    raise SystemExit(main())
