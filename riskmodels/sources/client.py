"""The one fetch-and-land client every source goes through.

* a declared ``User-Agent`` (the SEC requires "Organisation contact@example.org");
* a rate limit per source family, shared by every task and thread of a process (EDGAR's fair-access
  limit is 10 requests per second);
* retries with exponential backoff on connection errors, timeouts, bodies cut short and 408/429/5xx
  answers, honouring ``Retry-After``; a status that stays retryable raises :class:`FetchError`;
* conditional GET (``If-None-Match`` / ``If-Modified-Since`` from the last answer's ETag and
  Last-Modified, kept in the ``http_cache`` table): a 304 returns the landed copy;
* gzip (``Accept-Encoding``; bodies are decoded before landing);
* every body is landed content-addressed in the storage root and logged in ``fetch_log`` (URL, fetch
  time, status, sha256) *before* anything parses it.

In replay mode (the default: these machines are offline, see :mod:`riskmodels.sources.replay`) the
real URLs are rewritten to a loopback server that serves recorded files under the same paths; the
landed bytes and the logged URL are the real ones, with ``served_by = replay``.
"""
from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import logging
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ..config import Settings, get_settings
from ..ingest import IngestError

log = logging.getLogger(__name__)

#: answers worth retrying (the rest is an answer, returned to the caller)
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class FetchError(IngestError):
    """A URL could not be fetched after the bounded retries (operational; retry later)."""


class RateLimiter:
    """At most ``per_second`` requests per second, spaced evenly; thread-safe. One instance per
    source family and process (:func:`limiter`), so concurrent tasks share the budget."""

    def __init__(self, per_second: float):
        self.interval = 1.0 / per_second if per_second else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> float:
        """Block until this caller may send; returns the seconds waited."""
        if not self.interval:
            return 0.0
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
        delay = slot - now
        if delay > 0:
            time.sleep(delay)
        return delay


_LIMITERS: dict[str, RateLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def limiter(family: str, per_second: float | None) -> RateLimiter:
    """The process-wide limiter of a source family (created on first use)."""
    with _LIMITERS_LOCK:
        if family not in _LIMITERS:
            _LIMITERS[family] = RateLimiter(per_second or 0.0)
        return _LIMITERS[family]


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


@dataclass(frozen=True)
class Response:
    """A fetched (or, on 304, revalidated) body, already landed."""

    url: str
    status: int
    body: bytes
    sha256: str
    landing_path: str
    fetched_at: str
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    attempts: int = 1
    served_by: str = "live"

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300 or self.not_modified


def _ext(url: str, content_type: str | None) -> str:
    path = urlsplit(url).path.lower()
    for suffix in (".json", ".xml", ".txt", ".htm", ".html", ".nc", ".csv", ".zip", ".tsv"):
        if path.endswith(suffix):
            return suffix[1:]
    ctype = (content_type or "").lower()
    if "json" in ctype:
        return "json"
    if "atom" in ctype or "xml" in ctype:
        return "xml"
    if "html" in ctype:
        return "htm"
    return "bin"


@dataclass
class FetchClient:
    """HTTP GETs for one source family (``sec``, ``epoch``, ``datasets`` ...).

    Parameters
    ----------
    family : str
        Name of the family: the rate limit and the ``fetch_log`` rows are per family.
    user_agent : str
        The declared identity sent with every request.
    per_second : float, optional
        Rate limit (requests per second) shared by the process; None for none.
    timeout, retries, backoff, max_backoff : float, int, float, float
        Seconds per request, retries after the first attempt, the first backoff (doubled each
        retry) and its cap.
    rewrite : callable, optional
        Maps a real URL to the URL actually requested (replay mode).
    """

    family: str
    user_agent: str
    per_second: float | None = None
    timeout: float = 30.0
    retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 60.0
    rewrite: object = None
    served_by: str = "live"
    settings: Settings | None = None
    #: land each body and log the fetch here (False: the caller lands and records it, as
    #: :func:`riskmodels.ingest.land` does for the daily datasets in ``raw_inputs``)
    record: bool = True
    _session: object = field(default=None, repr=False)

    def _http(self):
        if self._session is None:
            import requests

            self._session = requests.Session()
            self._session.headers.update({"User-Agent": self.user_agent, "Accept-Encoding": "gzip, deflate"})
        return self._session

    def get(self, url: str, *, conditional: bool = False, headers: dict | None = None) -> Response:
        """GET ``url`` (the real URL), land the body, log the fetch, return it.

        Non-retryable answers (200, 304, 404, ...) are returned (and landed: an error page is
        evidence); a retryable one left after the retries, or a failed connection, raises
        :class:`FetchError`."""
        import requests

        from .. import store
        from ..ingest import land_bytes

        settings = self.settings or get_settings()
        cached = store.http_cache_get(url, settings) if conditional else None
        send = dict(headers or {})
        if cached is not None:
            if cached.get("etag"):
                send["If-None-Match"] = cached["etag"]
            if cached.get("last_modified"):
                send["If-Modified-Since"] = cached["last_modified"]
        target = self.rewrite(url) if self.rewrite else url
        wait_rl = limiter(self.family, self.per_second)
        last_error, resp, attempt = None, None, 0
        for attempt in range(1, self.retries + 2):
            wait_rl.wait()
            try:
                resp = self._http().get(target, headers=send, timeout=self.timeout)
                body = resp.content  # a body cut short raises here
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                    requests.exceptions.ContentDecodingError) as exc:
                last_error, resp = f"{type(exc).__name__}: {exc}", None
            else:
                if resp.status_code not in RETRY_STATUSES:
                    break
                last_error = f"HTTP {resp.status_code}"
            if attempt > self.retries:
                break
            pause = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
            if resp is not None:
                pause = max(pause, min(self.max_backoff, retry_after_seconds(resp.headers.get("Retry-After")) or 0.0))
            log.info("%s: %s; retry %d of %d in %.1fs", url, last_error, attempt, self.retries, pause)
            time.sleep(pause)
        fetched_at = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
        if resp is None or resp.status_code in RETRY_STATUSES:
            failure = (f"{url}: request failed after {self.retries} retries: {last_error}" if resp is None
                       else f"{url}: {last_error} after {self.retries} retries")
            if not self.record:
                raise FetchError(failure)
            store.record_fetch({"family": self.family, "url": url, "fetched_at": fetched_at,
                                "status": resp.status_code if resp is not None else None, "sha256": None,
                                "landing_path": None, "size_bytes": None, "content_type": None, "etag": None,
                                "last_modified": None, "attempts": attempt, "not_modified": False,
                                "served_by": self.served_by, "error": last_error}, settings)
            raise FetchError(failure)
        ctype = resp.headers.get("Content-Type")
        if not self.record:
            return Response(url=url, status=resp.status_code, body=body, sha256=hashlib.sha256(body).hexdigest(),
                            landing_path="", fetched_at=fetched_at, content_type=ctype, etag=resp.headers.get("ETag"),
                            last_modified=resp.headers.get("Last-Modified"), attempts=attempt, served_by=self.served_by)
        if resp.status_code == 304 and cached is not None:
            from .. import storage

            body = storage.from_url(cached["landing_path"]).read_bytes()
            sha, path = cached["sha256"], cached["landing_path"]
            etag, modified = cached.get("etag"), cached.get("last_modified")
            ctype = cached.get("content_type") or ctype
        else:
            sha, landed = land_bytes(body, _ext(url, ctype), settings)
            path = str(landed)
            etag, modified = resp.headers.get("ETag"), resp.headers.get("Last-Modified")
        out = Response(url=url, status=resp.status_code, body=body, sha256=sha, landing_path=path,
                       fetched_at=fetched_at, content_type=ctype, etag=etag, last_modified=modified,
                       not_modified=resp.status_code == 304, attempts=attempt, served_by=self.served_by)
        store.record_fetch({"family": self.family, "url": url, "fetched_at": fetched_at, "status": resp.status_code,
                            "sha256": sha, "landing_path": path, "size_bytes": len(body), "content_type": ctype,
                            "etag": etag, "last_modified": modified, "attempts": attempt,
                            "not_modified": out.not_modified, "served_by": self.served_by, "error": None}, settings)
        if conditional and 200 <= resp.status_code < 300 and (etag or modified):
            store.http_cache_put({"url": url, "etag": etag, "last_modified": modified, "sha256": sha,
                                  "landing_path": path, "content_type": ctype, "fetched_at": fetched_at}, settings)
        return out


def source_client(family: str, http: dict, settings=None) -> FetchClient:
    """The :class:`FetchClient` of one source family from its settings (``user_agent``,
    ``rate_per_second``, ``timeout_seconds``, ``retries``, ``backoff_seconds``,
    ``max_backoff_seconds``); in replay mode (``riskmodels.sources.sec.mode``) it asks this
    process's replay server under the real URLs."""
    from ..config import get_settings
    from .sec import mode

    settings = settings or get_settings()
    kwargs = {"family": family, "user_agent": http["user_agent"], "per_second": float(http["rate_per_second"]),
              "timeout": float(http["timeout_seconds"]), "retries": int(http["retries"]),
              "backoff": float(http["backoff_seconds"]), "max_backoff": float(http["max_backoff_seconds"]),
              "settings": settings}
    if mode(settings) == "replay":
        from .replay import shared

        return FetchClient(**kwargs, rewrite=shared(settings.home).rewrite, served_by="replay")
    return FetchClient(**kwargs)
