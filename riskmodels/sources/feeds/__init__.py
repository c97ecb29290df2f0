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
    from ..client import source_client

    settings = settings or get_settings()
    return source_client("feeds", events_config(settings)["http"], settings)
