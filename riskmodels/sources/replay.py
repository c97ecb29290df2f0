"""A loopback HTTP server that answers with recorded files under the real services' URL layouts.

These machines reach package registries only, so every source adapter is exercised against this
server: ``make run`` and the tests replay the files shipped under ``data/recorded/`` (each family's
``MANIFEST.csv`` maps a real URL to a recorded file, with its provenance) through the same
:class:`~riskmodels.sources.client.FetchClient` that goes live on request. A request for
``https://www.sec.gov/Archives/...`` arrives as ``http://127.0.0.1:<port>/www.sec.gov/Archives/...``.

What the server does as the real service would:

* an unknown URL answers 404 with an HTML page (EDGAR's habit);
* ``ETag`` (the body's sha256) and ``If-None-Match`` -> 304;
* a recorded ``.gz`` file is sent with ``Content-Encoding: gzip`` to a client that accepts it;
* EDGAR's latest-filings Atom (``/cgi-bin/browse-edgar?action=getcurrent``) is filtered by the
  ``type`` parameter (form prefix) and paged by ``start``/``count`` from the recorded feed.

Tests make it misbehave per path with :meth:`ReplayServer.misbehave`: a status (429 with
``Retry-After``, 503 ...), a delay (timeouts), a truncated body, an HTML error page.
"""
from __future__ import annotations

import csv
import gzip
import hashlib
import http.server
import re
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from ..config import PACKAGE_ROOT


def manifest_paths(home: Path | None = None) -> list[Path]:
    return sorted(Path(home or PACKAGE_ROOT).joinpath("data", "recorded").glob("*/MANIFEST.csv"))


class ReplayServer:
    """Serve recorded files; ``rewrite(real_url)`` gives the loopback URL to request."""

    def __init__(self, manifests: list[Path] | None = None):
        self.routes: dict[str, tuple[Path, str]] = {}
        for m in manifests if manifests is not None else manifest_paths():
            with m.open(newline="", encoding="utf-8") as f:
                for row in csv.DictReader(f):
                    self.routes[row["url"]] = (m.parent / row["file"], row.get("content_type") or "")
        self.plans: dict[str, list[tuple]] = {}
        self.hits: dict[str, int] = {}
        self.requests: list[dict] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802
                outer._serve(self)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # ------------------------------------------------------------------ routing
    def rewrite(self, url: str) -> str:
        parts = urlsplit(url)
        return f"{self.base_url}/{parts.netloc}{parts.path}" + (f"?{parts.query}" if parts.query else "")

    @staticmethod
    def real_url(path: str) -> str:
        host, _, rest = path.lstrip("/").partition("/")
        return f"https://{host}/{rest}"

    def misbehave(self, url: str, *actions: tuple) -> None:
        """Queue answers for the real ``url`` (path and query), one per request, before the
        recorded file is served again: ``("status", code, headers, body)``, ``("delay", seconds)``
        (then the file), ``("truncate", n_bytes)`` (declares the full length, sends n bytes),
        ``("html", code)`` (an HTML error page with that status), ``("body", bytes, content_type)``
        (those bytes with 200 instead of the recorded file: a changed or corrupted document)."""
        self.plans.setdefault(url, []).extend(actions)

    def _lookup(self, url: str) -> tuple[bytes, str] | None:
        if url in self.routes:
            path, ctype = self.routes[url]
            return path.read_bytes(), ctype
        parts = urlsplit(url)
        if parts.path == "/cgi-bin/browse-edgar":
            return self._getcurrent(parse_qs(parts.query))
        return None

    def _getcurrent(self, q: dict) -> tuple[bytes, str] | None:
        """EDGAR's latest-filings Atom, filtered by form-type prefix and paged, from the recorded
        unfiltered first page."""
        if q.get("action", [""])[0] != "getcurrent":
            return None
        base = next((u for u in self.routes if "action=getcurrent" in u and "type=&" in u), None)
        if base is None:
            return None
        path, ctype = self.routes[base]
        raw = path.read_bytes()
        head, _, rest = raw.partition(b"<entry>")
        entries = re.findall(rb"<entry>.*?</entry>", b"<entry>" + rest, re.S)
        want = q.get("type", [""])[0].strip().upper()
        if want:
            entries = [e for e in entries if re.search(rb'term="' + re.escape(want.encode()), e, re.I)]
        start, count = int(q.get("start", ["0"])[0] or 0), int(q.get("count", ["40"])[0] or 40)
        body = head + b"".join(e + b"\n" for e in entries[start:start + count]) + b"</feed>\n"
        return body, ctype

    # ------------------------------------------------------------------ serving
    def _send(self, h, status: int, body: bytes, ctype: str, headers: dict | None = None,
              declared: int | None = None) -> None:
        try:
            h.send_response(status)
            h.send_header("Content-Type", ctype or "application/octet-stream")
            h.send_header("Content-Length", str(declared if declared is not None else len(body)))
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(body)
            h.wfile.flush()
            if declared is not None:
                h.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _serve(self, h) -> None:
        url = self.real_url(h.path)
        self.hits[url] = self.hits.get(url, 0) + 1
        self.requests.append({"url": url, "headers": dict(h.headers)})
        plan = self.plans.get(url)
        action = plan.pop(0) if plan else None
        if action and action[0] == "status":
            _, code, headers, body = (list(action) + [{}, b""])[:4]
            return self._send(h, code, body or b"", "text/plain", headers)
        if action and action[0] == "html":
            page = (f"<!DOCTYPE html><html><head><title>{action[1]} Error</title></head><body><h1>Your request "
                    f"could not be processed</h1></body></html>").encode()
            return self._send(h, action[1], page, "text/html; charset=utf-8")
        if action and action[0] == "body":
            return self._send(h, 200, action[1], action[2] if len(action) > 2 else "text/plain")
        if action and action[0] == "delay":
            time.sleep(action[1])
        found = self._lookup(url)
        if found is None:
            page = b"<!DOCTYPE html><html><head><title>404 Not Found</title></head><body>Not Found</body></html>"
            return self._send(h, 404, page, "text/html; charset=utf-8")
        body, ctype = found
        is_gz = body[:2] == b"\x1f\x8b"
        etag = '"' + hashlib.sha256(gzip.decompress(body) if is_gz else body).hexdigest()[:32] + '"'
        if h.headers.get("If-None-Match") == etag:
            return self._send(h, 304, b"", ctype, {"ETag": etag})
        headers = {"ETag": etag}
        if is_gz:
            if "gzip" in (h.headers.get("Accept-Encoding") or ""):
                headers["Content-Encoding"] = "gzip"
            else:
                body = gzip.decompress(body)
        if action and action[0] == "truncate":
            return self._send(h, 200, body[: action[1]], ctype, headers, declared=len(body))
        return self._send(h, 200, body, ctype, headers)


_SHARED: dict[str, ReplayServer] = {}
_SHARED_LOCK = threading.Lock()


def shared(home: Path | None = None) -> ReplayServer:
    """This process's replay server over the project's recordings (started on first use)."""
    key = str(Path(home or PACKAGE_ROOT).resolve())
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = ReplayServer(manifest_paths(Path(key)))
        return _SHARED[key]
