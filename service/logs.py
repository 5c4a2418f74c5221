"""JSON logging for the service: one line per event, never patient data, tokens or JWTs."""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

_CONFIGURED = False


def json_formatter() -> logging.Formatter:
    """The one log line format (app and gunicorn alike): JSON with time, level, logger, message and extras."""
    return JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s")


def configure_logging(level: int = logging.INFO) -> None:
    """Send the ``service`` loggers to stderr as JSON (idempotent)."""
    global _CONFIGURED
    if _CONFIGURED:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(json_formatter())
    logger = logging.getLogger("service")
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    _CONFIGURED = True
