"""Alerts against a real SMTP server (aiosmtpd on 127.0.0.1): one digest per run, sent once,
never lost, RESOLVED on the way back, and no header or markup injection."""
from __future__ import annotations

import datetime as dt
import email
import json
import socket
from email import policy

import pandas as pd
import pytest
from aiosmtpd.controller import Controller

from conftest import ROOT, write_sources
from riskmodels import pipeline, store

D1, D2, D3 = dt.date(2026, 11, 22), dt.date(2026, 11, 23), dt.date(2026, 11, 24)


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        self.messages.append({"rcpt": list(envelope.rcpt_tos), "from": envelope.mail_from,
                              "msg": email.message_from_bytes(envelope.content, policy=policy.default)})
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpServer:
    def __init__(self):
        self.inbox = Inbox()
        self.port = free_port()
        self.controller = None

    def start(self):
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        self.controller.stop()
        self.controller = None


@pytest.fixture
def per_series_rules(tmp_path, monkeypatch):
    """The shipped rules with the per-series HHI and share rules switched on (they are off by
    default: the concept rules replace them); these tests exercise the per-series mechanics."""
    import yaml

    cfg = yaml.safe_load((ROOT / "config" / "alert_rules.yaml").read_text())
    for rule in cfg["rules"]:
        rule.pop("enabled", None)
    path = tmp_path / "alert_rules.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    monkeypatch.setenv("RISKMODELS_ALERT_RULES", str(path))
    return path


@pytest.fixture
def smtp(workspace, monkeypatch):
    server = SmtpServer()
    server.start()
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": server.port,
        "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "risk@example.org", "timeout": 5}}))
    yield server
    if server.controller:
        server.stop()


def outbox():
    return store.read_sql("SELECT digest_id, run_date, status, attempts, last_error, n_firing, n_resolved, transport "
                          "FROM alert_outbox ORDER BY run_date")


def text_of(msg) -> str:
    return msg.get_body(("plain",)).get_content()


def html_of(msg) -> str:
    return msg.get_body(("html",)).get_content()


def with_mizuho_share(tmp_path, monkeypatch, share: str, name: str = "ms"):
    """Market shares with Nvidia's Mizuho 2024 'AI chips' share replaced (its HHI = share^2)."""
    df = pd.read_csv(ROOT / "data" / "market_shares.csv", dtype=str, keep_default_na=False)
    df.loc[(df.market_id == "accel.mizuho.ai-chips") & (df.entity_id == "nvidia"), "share_pct"] = share
    path = tmp_path / f"{name}.csv"
    df.to_csv(path, index=False)
    monkeypatch.setenv("RISKMODELS_SOURCES", str(write_sources(tmp_path, {"market_shares": str(path)})))


def test_first_run_sends_one_digest_and_a_rerun_sends_nothing(smtp, per_series_rules):
    result = pipeline.run(D1)
    assert result["alerts"]["digest"] == "queued" and result["alerts"]["sent"] == [f"digest-{D1}"]
    assert len(smtp.inbox.messages) == 1
    got = smtp.inbox.messages[0]
    msg = got["msg"]
    assert got["rcpt"] == ["analysts@riskmodels.invalid"] and got["from"] == "risk@example.org"
    assert msg["Subject"].startswith(f"[riskmodels] {D1}:") and "\n" not in msg["Subject"]
    assert msg.get_body(("plain",)) is not None and msg.get_body(("html",)) is not None
    body = text_of(msg)
    # the accelerator markets are far above 1,800
    # markets by name, the id as a reference
    assert ("FIRING: hhi-highly-concentrated - AI chips, worldwide — Mizuho 2024FY [accel.mizuho.ai-chips]: n/a -> "
            "9,025.0 (threshold > 1800") in body
    assert "2023 DOJ/FTC Merger Guidelines, Guideline 1" in body and "Nvidia Corp. 95%" in body
    assert "https://www.nasdaq.com/articles/nvidia-stock-top-pick-november-according-1-wall-street-analyst" in body
    assert f"run {result['run_id']}" in body
    # severity order: critical before warning before info
    sev = [line.split("]")[0] for line in body.splitlines() if line.startswith("[")]
    order = {"[CRITICAL": 0, "[WARNING": 1, "[INFO": 2}
    assert [order[s] for s in sev] == sorted(order[s] for s in sev)
    ob = outbox()
    assert ob.status.tolist() == ["sent"] and ob.attempts.tolist() == [1] and ob.transport.tolist() == ["smtp"]
    pipeline.run(D1)                               # rerun of the same date
    assert len(smtp.inbox.messages) == 1 and len(outbox()) == 1
    pipeline.run(D2)                               # nothing changed: no transition, no digest
    assert len(smtp.inbox.messages) == 1 and len(outbox()) == 1


def test_crossing_back_resolves_with_hysteresis(smtp, tmp_path, monkeypatch, per_series_rules):
    pipeline.run(D1)
    assert len(smtp.inbox.messages) == 1
    with_mizuho_share(tmp_path, monkeypatch, "42.2", "hover")   # HHI 1,780.8: below 1,800, above 1,750
    pipeline.run(D2)
    assert len(smtp.inbox.messages) == 1, "a value hovering inside the hysteresis band must not flap"
    with_mizuho_share(tmp_path, monkeypatch, "40", "low")       # HHI 1,600: back past 1,800 - 50
    pipeline.run(D3)
    assert len(smtp.inbox.messages) == 2
    body = text_of(smtp.inbox.messages[1]["msg"])
    assert ("RESOLVED: hhi-highly-concentrated - AI chips, worldwide — Mizuho 2024FY [accel.mizuho.ai-chips]: 1,780.8 "
            "-> 1,600.0") in body
    assert outbox().n_resolved.tolist()[-1] >= 1


def test_outage_keeps_the_digest_queued_then_delivers_it_once(smtp):
    smtp.stop()
    result = pipeline.run(D1)                       # the run completes although mail is down
    assert result["alerts"]["failed"] == [f"digest-{D1}"]
    ob = outbox()
    assert ob.status.tolist() == ["queued"] and ob.attempts.tolist() == [1] and ob.last_error.notna().all()
    assert store.read_sql("SELECT status FROM pipeline_runs").status.tolist() == ["published"]
    smtp.start()
    pipeline.run(D2)                                # the next run sends the backlog
    assert len(smtp.inbox.messages) == 1 and str(D1) in smtp.inbox.messages[0]["msg"]["Subject"]
    ob = outbox()
    assert ob.status.tolist() == ["sent"] and ob.attempts.tolist() == [2] and ob.last_error.isna().all()
    pipeline.run(D2)
    pipeline.run(D1)
    assert len(smtp.inbox.messages) == 1, "the backlog goes out exactly once"


def test_backfill_is_recorded_not_mailed(smtp):
    pipeline.run(D3)
    pipeline.run(D1)                                 # an older date, evaluated after D3
    assert len(smtp.inbox.messages) == 1
    assert outbox().assign(d=lambda o: o.run_date.astype(str)).set_index("d").status.to_dict() == {
        str(D1): "suppressed_backfill", str(D3): "sent"}


def test_hostile_entity_names_cannot_inject(smtp, tmp_path, monkeypatch):
    ents = pd.read_csv(ROOT / "data" / "entities.csv", dtype=str, keep_default_na=False)
    ents.loc[ents.entity_id == "nvidia", "name"] = "Evil\r\nBcc: x@y <script>alert(1)</script>"
    path = tmp_path / "entities.csv"
    ents.to_csv(path, index=False)
    monkeypatch.setenv("RISKMODELS_SOURCES", str(write_sources(tmp_path, {"entities": str(path)})))
    pipeline.run(D1)
    assert len(smtp.inbox.messages) == 1
    got = smtp.inbox.messages[0]
    msg = got["msg"]
    assert got["rcpt"] == ["analysts@riskmodels.invalid"], "no extra envelope recipient"
    assert msg["Bcc"] is None and "x@y" not in str(msg["To"])
    assert all("\n" not in str(v) and "\r" not in str(v) for v in msg.values())
    h = html_of(msg)
    assert "<script>" not in h and "&lt;script&gt;alert(1)&lt;/script&gt;" in h
    body = text_of(msg)
    assert "Evil Bcc: x@y" in body and "Evil\r\nBcc" not in body


def test_without_a_connection_digests_go_to_files(workspace, monkeypatch, per_series_rules):
    monkeypatch.delenv("AIRFLOW_CONN_SMTP_DEFAULT", raising=False)
    pipeline.run(D1)
    eml = workspace / "outbox" / f"digest-{D1}.eml"
    assert eml.exists()
    msg = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert "hhi-highly-concentrated" in text_of(msg)
    assert outbox().status.tolist() == ["sent_to_file"]


def test_failed_validation_is_alerted(smtp, tmp_path, monkeypatch):
    df = pd.read_csv(ROOT / "data" / "investments.csv", dtype=str, keep_default_na=False)
    df.loc[0, "amount_usd_bn"] = "-1"
    path = tmp_path / "inv.csv"
    df.to_csv(path, index=False)
    monkeypatch.setenv("RISKMODELS_SOURCES", str(write_sources(tmp_path, {"investments": str(path)})))
    with pytest.raises(Exception, match="Validation failed"):
        pipeline.run(D1)
    assert len(smtp.inbox.messages) == 1
    body = text_of(smtp.inbox.messages[0]["msg"])
    assert "[CRITICAL] FIRING: dataset-failed-validation - dataset investments" in body
    assert "amount_usd_bn" in body and "hhi-highly-concentrated" not in body  # nothing published: no score alerts


def test_by_default_the_digest_has_one_alert_per_concept_and_firm(smtp):
    pipeline.run(D1)
    body = text_of(smtp.inbox.messages[0]["msg"])
    assert "FIRING: concept-hhi-highly-concentrated - Data-centre AI accelerators, worldwide" in body
    assert "FIRING: concept-firm-share-over-30 - Nvidia Corp.'s share of Data-centre AI accelerators, worldwide" in body
    assert "in 8 of 8 fresh series (robust)" in body
    assert "FIRING: firm-share-over-30" not in body and "FIRING: hhi-highly-concentrated" not in body
