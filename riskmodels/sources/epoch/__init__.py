"""Epoch AI open datasets (CC BY 4.0): settings and the client (``config/epoch.yaml``).

Modules: :mod:`.clusters` (GPU clusters / AI supercomputers: schema check, names to entity ids,
installed compute by owner and by chip vendor per quarter). The client is the shared
fetch-and-land client (:mod:`riskmodels.sources.client`), family ``epoch``; in replay mode (the
sources mode of ``config/sec.yaml``, ``RISKMODELS_SOURCES_MODE`` overrides) the recorded copies in
``data/recorded/epoch`` are served under their URLs by the replay server.
"""
from __future__ import annotations

from ...config import Settings, get_settings, load_yaml


def epoch_config(settings: Settings | None = None) -> dict:
    settings = settings or get_settings()
    return load_yaml(settings.home / "config" / "epoch.yaml")


def client(settings: Settings | None = None):
    """The Epoch :class:`~riskmodels.sources.client.FetchClient` of this process."""
    from ..client import source_client

    settings = settings or get_settings()
    return source_client("epoch", epoch_config(settings), settings)


def fetch(dataset: str, settings: Settings | None = None, http=None):
    """Fetch (conditional GET) and land one dataset of ``config/epoch.yaml``; returns
    ``(response, as_of)``: the client's Response (``body`` holds the bytes, from the landed copy on
    a 304) and the date its rows are known from (the recorded copy's date in replay mode, else the
    fetch date)."""
    import datetime as dt

    from ..sec import mode

    settings = settings or get_settings()
    cfg = epoch_config(settings)["datasets"][dataset]
    resp = (http or client(settings)).get(cfg["url"], conditional=True)
    as_of = (dt.date.fromisoformat(str(cfg["replay_as_of"])) if mode(settings) == "replay"
             else dt.date.fromisoformat(resp.fetched_at[:10]))
    return resp, as_of
