"""SEC EDGAR: URL layout, settings and the client (``config/sec.yaml``).

Modules: :mod:`.forms13dg` (SCHEDULE 13D/13G, structured and legacy), :mod:`.form13f` (13F-HR
submissions, information tables and the quarterly data sets), :mod:`.xbrl` (inline XBRL segment
facts, companyfacts), :mod:`.feeds` (submissions JSON, latest-filings Atom), :mod:`.detect` (what a
file is, for ``riskmodels sec parse``), :mod:`.discovery` and :mod:`.daily` (what the
``sec_filings`` DAG runs).
"""
from __future__ import annotations

import os
import re

from ...config import Settings, get_settings, load_yaml

ACCESSION_RE = re.compile(r"^\d{10}-\d{2}-\d{6}$")


class SecConfigError(RuntimeError):
    """The SEC source cannot run as configured (e.g. a live run without a declared identity)."""


def sec_config(settings: Settings | None = None) -> dict:
    settings = settings or get_settings()
    return load_yaml(settings.home / "config" / "sec.yaml")


def mode(settings: Settings | None = None) -> str:
    """``replay`` (recorded files on a loopback server) or ``live`` (``RISKMODELS_SOURCES_MODE`` wins)."""
    m = (os.environ.get("RISKMODELS_SOURCES_MODE") or sec_config(settings).get("mode") or "replay").strip().lower()
    if m not in ("replay", "live"):
        raise SecConfigError(f"sources mode must be replay or live, not {m!r}")
    return m


def identity(settings: Settings | None = None) -> str:
    """The declared User-Agent. Live: ``RISKMODELS_SEC_IDENTITY`` or ``config/sec.yaml`` ``identity``,
    which must read "Organisation contact@example.org"; a live run refuses to start without it."""
    cfg = sec_config(settings)
    if mode(settings) == "replay":
        return cfg.get("replay_identity") or "riskmodels replay"
    value = (os.environ.get("RISKMODELS_SEC_IDENTITY") or cfg.get("identity") or "").strip()
    if not re.fullmatch(r".*\S\s+\S+@\S+\.\S+", value):
        raise SecConfigError(
            "a live SEC run needs a declared identity (User-Agent \"Organisation contact@example.org\"): set "
            "`identity` in config/sec.yaml or RISKMODELS_SEC_IDENTITY; the SEC blocks undeclared clients")
    return value


def client(settings: Settings | None = None):
    """The EDGAR :class:`~riskmodels.sources.client.FetchClient` of this process: live hosts, or the
    replay server over ``data/recorded`` (same client, same real URLs)."""
    from ..client import FetchClient

    settings = settings or get_settings()
    cfg = sec_config(settings)
    kwargs = {"family": "sec", "user_agent": identity(settings), "per_second": float(cfg["rate_per_second"]),
              "timeout": float(cfg["timeout_seconds"]), "retries": int(cfg["retries"]),
              "backoff": float(cfg["backoff_seconds"]), "max_backoff": float(cfg["max_backoff_seconds"]),
              "settings": settings}
    if mode(settings) == "replay":
        from ..replay import shared

        server = shared(settings.home)
        return FetchClient(**kwargs, rewrite=server.rewrite, served_by="replay")
    return FetchClient(**kwargs)


# --------------------------------------------------------------------------- URL layout
def cik10(cik) -> str:
    return f"{int(str(cik).strip()):010d}"


def acc_nodash(accession: str) -> str:
    return accession.replace("-", "")


class Urls:
    """EDGAR's URL layout (living-sources.md section 0): data.sec.gov JSON with 10-digit CIKs,
    Archives paths with unpadded CIKs and dash-less accession folders."""

    def __init__(self, settings: Settings | None = None):
        hosts = sec_config(settings)["hosts"]
        self.www, self.data = hosts["www"].rstrip("/"), hosts["data"].rstrip("/")

    def submissions(self, cik, page: str | None = None) -> str:
        return f"{self.data}/submissions/{page or f'CIK{cik10(cik)}.json'}"

    def companyfacts(self, cik) -> str:
        return f"{self.data}/api/xbrl/companyfacts/CIK{cik10(cik)}.json"

    def folder(self, cik, accession: str) -> str:
        return f"{self.www}/Archives/edgar/data/{int(cik)}/{acc_nodash(accession)}"

    def document(self, cik, accession: str, name: str) -> str:
        # the JSON's primaryDocument may point at a rendered xsl*/ copy; the raw file sits above it
        return f"{self.folder(cik, accession)}/{re.sub(r'^xsl[^/]+/', '', name)}"

    def full_submission(self, cik, accession: str) -> str:
        return f"{self.folder(cik, accession)}/{accession}.txt"

    def getcurrent(self, form_type: str = "", start: int = 0, count: int = 100) -> str:
        from urllib.parse import quote

        return (f"{self.www}/cgi-bin/browse-edgar?action=getcurrent&count={count}&start={start}"
                f"&type={quote(form_type)}&owner=include&output=atom")

    def full_index(self, year: int, quarter: int) -> str:
        return f"{self.www}/Archives/edgar/full-index/{year}/QTR{quarter}/form.idx"
