"""HTTP access to the CDS client's FHIR server (``fhirServer``): the service's only outbound calls.

Every call goes to the request's ``fhirServer`` origin only (``next`` links elsewhere are refused, redirects
are not followed), carries ``Accept: application/fhir+json`` and, only when the client sent
``fhirAuthorization``, ``Authorization: Bearer <token>``. Each call is bounded by the request's deadline:
the connect and read timeouts are the time left, and the body is read in chunks that stop at the deadline
or the size cap. Transport problems are translated here, at one boundary, into :class:`FetchError`
(a reason a client developer can act on); callers never see ``requests`` exceptions.

The access token lives only in the :class:`FhirClient` of one request; it is never logged, never put in a
reason, and the shared session keeps no cookies, no ``.netrc`` credentials and no proxy settings.
"""

from __future__ import annotations

import http.cookiejar
import ipaddress
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from urllib.parse import urljoin
from urllib.parse import urlsplit

import orjson
import requests
from requests.adapters import HTTPAdapter

from service.errors import BadRequestError

#: A single FHIR response larger than this is refused (a patient's searches are a few MB at most).
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
#: Connecting takes at most this long, even when more of the budget is left.
MAX_CONNECT_S = 2.0
_CHUNK_BYTES = 64 * 1024
_DEFAULT_PORTS = {"http": 80, "https": 443}


class FetchError(Exception):
    """A FHIR call that gave no usable data; ``reason`` completes "the FHIR server ..." (no token, no URL)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def make_session(pool_maxsize: int = 32) -> requests.Session:
    """A ``requests.Session`` with a connection pool, to be shared by all requests of a worker.

    No retries (the deadline is short and calls are not idempotent in cost), no cookies (one session serves
    many clients and patients), and ``trust_env`` off so that ``.netrc`` cannot add an ``Authorization``
    header and proxy variables cannot redirect patient data.
    """
    session = requests.Session()
    session.trust_env = False
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    adapter = HTTPAdapter(pool_connections=16, pool_maxsize=pool_maxsize, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def check_fhir_server(url: Any) -> str:
    """``url`` as a base URL without trailing slash, if the service may call it.

    :raises BadRequestError: not an absolute http(s) URL, or plain http to a host that is not loopback.
    """
    if not isinstance(url, str) or not url.strip():
        raise BadRequestError("fhirServer must be the absolute base URL of your FHIR server")
    base = url.strip().rstrip("/")
    try:
        parts = urlsplit(base)
        _ = parts.port  # urlsplit checks the port only when asked
    except ValueError:
        raise BadRequestError("fhirServer is not a valid URL; send the absolute base URL of your FHIR server") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequestError("fhirServer must be an absolute http(s) URL, e.g. https://ehr.example.org/fhir")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise BadRequestError("fhirServer must be a plain base URL: no credentials, query or fragment")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise BadRequestError(
            "fhirServer must use https (plain http is accepted only for loopback hosts used in testing)"
        )
    return base


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme)


def next_link(page: Any) -> str | None:
    """The ``next`` link of a Bundle page, if any."""
    if not isinstance(page, dict) or page.get("resourceType") != "Bundle":
        return None
    links = page.get("link")
    if not isinstance(links, list):
        return None
    for link in links:
        if isinstance(link, dict) and link.get("relation") == "next":
            url = link.get("url")
            if isinstance(url, str) and url.strip():
                return url.strip()
    return None


@dataclass
class FhirClient:
    """GETs for one hook request against its ``fhirServer``, all before ``deadline`` (``time.monotonic``)."""

    session: requests.Session
    base: str
    access_token: str | None = field(repr=False)
    deadline: float
    budget_s: float
    cancelled: threading.Event = field(default_factory=threading.Event)

    def url(self, query: str) -> str:
        """The absolute URL of a template query (``Patient/1``, ``Condition?patient=1``)."""
        return f"{self.base}/{query.lstrip('/')}"

    def get_json(self, url: str) -> dict[str, Any]:
        """The JSON resource at ``url``.

        :raises FetchError: any status but 200, a timeout, a transport error, a body that is not a JSON
            object, or an OperationOutcome.
        """
        headers = {"Accept": "application/fhir+json"}
        if self.access_token:
            headers["Authorization"] = f"Bearer {self.access_token}"
        try:
            try:
                body = self._get_body(url, headers)
            except requests.ConnectionError as error:
                if isinstance(error, requests.Timeout):
                    raise
                # A pooled keep-alive connection the server closed as we reused it (Node closes idle ones
                # after 5 s; seen as "connection reset" / "aborted" before any byte of the answer). A GET is
                # safe to send again, once, within the same deadline.
                body = self._get_body(url, headers)
        except requests.Timeout:
            raise FetchError(self.timeout_reason()) from None
        except (requests.RequestException, ValueError, OSError) as error:
            raise FetchError(f"could not be reached ({type(error).__name__})") from None
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise FetchError("answered with a body that is not JSON") from None
        if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
            raise FetchError("answered with JSON that is not a FHIR resource")
        if value["resourceType"] == "OperationOutcome":
            raise FetchError("answered with an OperationOutcome instead of data")
        return value

    def _get_body(self, url: str, headers: dict[str, str]) -> bytes:
        remaining = self._remaining()
        with self.session.get(
            url,
            headers=headers,
            timeout=(min(remaining, MAX_CONNECT_S), remaining),
            stream=True,
            allow_redirects=False,
        ) as response:
            if response.status_code != requests.codes.ok:
                raise FetchError(_status_reason(response.status_code))
            return b"".join(self._chunks(response))

    def pages(self, first: dict[str, Any] | str, max_pages: int) -> tuple[list[dict[str, Any]], bool]:
        """The first page (given, or fetched from a URL) and the pages its ``next`` links lead to.

        Returns the pages and whether the page cap cut the list short. A link back to a page already read
        ends the list.

        :raises FetchError: a page could not be fetched, or a ``next`` link leaves ``fhirServer``'s origin.
        """
        page = first if isinstance(first, dict) else self.get_json(first)
        pages = [page]
        seen: set[str] = set()
        while (link := next_link(page)) is not None:
            if len(pages) >= max_pages:
                return pages, True
            url = urljoin(self.base + "/", link)
            if _origin(url) != _origin(self.base):
                raise FetchError("sent a next link outside fhirServer's origin, which the service does not follow")
            if url in seen:
                break
            seen.add(url)
            page = self.get_json(url)
            pages.append(page)
        return pages, False

    def _remaining(self) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0 or self.cancelled.is_set():
            raise FetchError(self.timeout_reason())
        return remaining

    def _chunks(self, response: requests.Response) -> Iterator[bytes]:
        size = 0
        for chunk in response.iter_content(_CHUNK_BYTES):
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                raise FetchError(f"answered with more than {MAX_RESPONSE_BYTES // (1024 * 1024)} MB")
            self._remaining()
            yield chunk

    def timeout_reason(self) -> str:
        return f"did not answer within the service's {self.budget_s:g} s budget (CGH_FHIR_TIMEOUT_S)"


def _status_reason(status: int) -> str:
    if status == requests.codes.unauthorized:
        return "answered 401 Unauthorized; send a valid, unexpired fhirAuthorization access token"
    if status == requests.codes.forbidden:
        return "answered 403 Forbidden; the access token's scopes must allow reading this patient's data"
    if status == requests.codes.bad_request:
        # Strict EHR APIs answer 400 to a search outside the parameter combinations they support.
        return "answered 400 Bad Request (a search or parameter it does not support)"
    if status == requests.codes.not_found:
        return "answered 404 Not Found; check fhirServer and context.patientId"
    if 300 <= status < 400:
        return f"answered {status} (a redirect, which the service does not follow); send the final URL"
    if status >= 500:
        return f"answered {status} (a server error)"
    return f"answered HTTP {status}"
