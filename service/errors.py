"""The service's one exception hierarchy, grouped by what the caller can do about it.

Lower layers raise these; only ``service.web.errors`` turns them into HTTP answers. Each class carries the
HTTP ``status`` it maps to and a stable ``code`` slug a client developer can search for. Messages say what
was wrong and how to fix it, never what was in the patient's chart.
"""

from __future__ import annotations


class CdsServiceError(Exception):
    """Root of every error a request can end in."""

    status: int = 500
    code: str = "internal-error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class BadRequestError(CdsServiceError, ValueError):
    """400: the request body or parameters are malformed, incomplete or inconsistent."""

    status = 400
    code = "bad-request"


class UnprocessableDataError(BadRequestError):
    """422: the request is well formed and as the contract describes it, but its data cannot be evaluated (a
    sandbox Bundle with no Patient, or none with the ``patientId`` asked for). A kind of bad request, so code
    that refuses bad input catches it too; the status tells a client that no schema check would have caught it."""

    status = 422
    code = "unprocessable-data"


class UnauthorizedError(CdsServiceError):
    """401: the caller's credentials are missing or not accepted. The response carries no detail."""

    status = 401
    code = "unauthorized"


class UnknownServiceError(CdsServiceError, LookupError):
    """404: no CDS service (or route) with that id."""

    status = 404
    code = "unknown-service"


class FhirDataUnavailableError(CdsServiceError):
    """412: data the service needs was neither prefetched nor obtainable from ``fhirServer``."""

    status = 412
    code = "fhir-data-unavailable"


class PayloadTooLargeError(CdsServiceError):
    """413: the request body is over the configured limit."""

    status = 413
    code = "payload-too-large"


class UnsupportedMediaTypeError(CdsServiceError):
    """415: the request body is not JSON."""

    status = 415
    code = "unsupported-media-type"


class StoreUnavailableError(CdsServiceError):
    """503: the database is unreachable; nothing was stored, so the client may retry."""

    status = 503
    code = "store-unavailable"


class StartupError(Exception):
    """Root of problems that stop the service from starting; never an HTTP answer."""


class ConfigError(StartupError, ValueError):
    """A ``CGH_*`` setting is missing or invalid; the message names the variable and the accepted values."""


class ContentError(StartupError, ValueError):
    """Card content, value sets or the service registry are invalid."""
