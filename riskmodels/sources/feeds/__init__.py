"""Regulators' feeds and 8-K material agreements: settings and the client (``config/events.yaml``).

Modules: :mod:`.parse` (RSS 2.0 / Atom through feedparser; the GOV.UK Content API per CMA case),
:mod:`.match` (parties through the alias table, event type and deal terms by the versioned rules),
:mod:`.daily` (what the ``regulatory_feeds`` DAG runs: fetch, parse, validate, match, store the
candidates). An analyst confirms candidates with :mod:`riskmodels.review`.

The client is the shared fetch-and-land client (:mod:`riskmodels.sources.client`), family
``feeds``; in replay mode (the sources mode of ``config/sec.yaml``, ``RISKMODELS_SOURCES_MODE``
overrides) the copies in ``data/recorded/feeds`` are served under the real URLs.
"""
from __future__ import annotations

from ...config import Settings, get_settings, load_yaml


def events_config(settings: Settings | None = None) -> dict:
    settings = settings or get_settings()
    return load_yaml(settings.home / "config" / "events.yaml")


def client(settings: Settings | None = None):
    """The feeds :class:`~riskmodels.sources.client.FetchClient` of this process."""
    from ..client import FetchClient
    from ..sec import mode

    settings = settings or get_settings()
    http = events_config(settings)["http"]
    kwargs = {"family": "feeds", "user_agent": http["user_agent"], "per_second": float(http["rate_per_second"]),
              "timeout": float(http["timeout_seconds"]), "retries": int(http["retries"]),
              "backoff": float(http["backoff_seconds"]), "max_backoff": float(http["max_backoff_seconds"]),
              "settings": settings}
    if mode(settings) == "replay":
        from ..replay import shared

        return FetchClient(**kwargs, rewrite=shared(settings.home).rewrite, served_by="replay")
    return FetchClient(**kwargs)
