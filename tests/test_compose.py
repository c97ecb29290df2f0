"""docker-compose.yml checked with a real Compose parser (Debian's docker-compose; there is no
Docker engine here): services, shared environment, health checks, secrets from .env only."""
from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from conftest import ROOT, debian_tool


@pytest.fixture(scope="module")
def compose_bin():
    return debian_tool("docker-compose", "docker-compose")


@pytest.fixture(scope="module")
def config(compose_bin):
    out = subprocess.run([compose_bin, "-f", str(ROOT / "docker-compose.yml"), "--env-file", str(ROOT / ".env.example"),
                          "config"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return yaml.safe_load(out.stdout)


AIRFLOW = ["airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-worker", "airflow-triggerer",
           "airflow-init"]


def test_services(config):
    assert set(config["services"]) == {"postgres", "redis", "mailpit", *AIRFLOW}
    for name in AIRFLOW:
        assert config["services"][name]["build"]["context"] == str(ROOT)
    commands = {n: config["services"][n].get("command") for n in AIRFLOW[:-1]}
    assert commands == {"airflow-apiserver": "api-server", "airflow-scheduler": "scheduler",
                        "airflow-dag-processor": "dag-processor", "airflow-worker": "celery worker",
                        "airflow-triggerer": "triggerer"}


def test_shared_environment(config):
    envs = [config["services"][n]["environment"] for n in AIRFLOW]
    for key in ("AIRFLOW__CORE__EXECUTOR", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CELERY__BROKER_URL",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL", "RISKMODELS_DB_URL", "AIRFLOW_CONN_SMTP_DEFAULT",
                "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__CORE__FERNET_KEY", "RISKMODELS_STORAGE_URL"):
        assert len({e[key] for e in envs}) == 1, key
    env = envs[0]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("@postgres/airflow")
    assert env["RISKMODELS_DB_URL"].endswith("@postgres/risk"), "the risk store has its own database"
    assert '"host": "mailpit"' in env["AIRFLOW_CONN_SMTP_DEFAULT"]


def test_health_checks_and_start_order(config):
    s = config["services"]
    for name in ("postgres", "redis", "mailpit", *AIRFLOW[:-1]):
        assert s[name]["healthcheck"]["test"], name
    for name in AIRFLOW[:-1]:
        deps = s[name]["depends_on"]
        assert deps["postgres"]["condition"] == deps["redis"]["condition"] == "service_healthy"
        assert deps["airflow-init"]["condition"] == "service_completed_successfully"
    published = [p for n in s for p in s[n].get("ports", [])]
    assert all(str(p.get("host_ip", "127.0.0.1") if isinstance(p, dict) else p).startswith("127.0.0.1")
               for p in published)


def test_secrets_only_from_env_file():
    raw = (ROOT / "docker-compose.yml").read_text()
    for key in ("POSTGRES_PASSWORD", "RISK_DB_PASSWORD", "FERNET_KEY", "JWT_SECRET", "AIRFLOW_ADMIN_PASSWORD"):
        assert f"${{{key}}}" in raw or f"${{{key}:" in raw, key
    assert "change-me" not in raw
    example = dict(line.split("=", 1) for line in (ROOT / ".env.example").read_text().splitlines()
                   if line and not line.startswith("#"))
    assert {"POSTGRES_PASSWORD", "RISK_DB_PASSWORD", "FERNET_KEY", "JWT_SECRET"} <= set(example)
    assert ".env" in (ROOT / ".gitignore").read_text().split()
    assert re.search(r"^FROM apache/airflow:3\.3\.\d+-python3\.11$", (ROOT / "Dockerfile").read_text(), re.M)
