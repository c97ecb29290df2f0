"""Paths and settings. Everything configurable comes from versioned files or the environment.

Environment variables:
    RISKMODELS_HOME     project root (default: the checkout this package lives in)
    RISKMODELS_VAR      working directory for landing, GX, reports (default: <home>/var)
    RISKMODELS_DB_URL   SQLAlchemy URL of the risk store (default: sqlite:///<var>/riskmodels.db)
    RISKMODELS_SOURCES  sources file (default: <home>/config/sources.yaml)
    RISKMODELS_VALIDATION  validation modes file (default: <home>/config/validation.yaml)
    RISKMODELS_STORAGE_URL  storage root shared by every task and worker: landing, staging,
                        reports, Data Docs (default: file://<var>; see riskmodels.storage)
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

PACKAGE_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    home: Path
    var: Path
    db_url: str
    sources_file: Path
    storage_url: str

    @property
    def expectations_dir(self) -> Path:
        return self.home / "expectations"

    @property
    def sql_dir(self) -> Path:
        return self.home / "sql"



def get_settings() -> Settings:
    """Read settings from the environment (not cached: tests change the environment)."""
    home = Path(os.environ.get("RISKMODELS_HOME", PACKAGE_ROOT)).resolve()
    var = Path(os.environ.get("RISKMODELS_VAR", home / "var")).resolve()
    db_url = os.environ.get("RISKMODELS_DB_URL") or f"sqlite:///{var / 'riskmodels.db'}"
    sources = Path(os.environ.get("RISKMODELS_SOURCES", home / "config" / "sources.yaml")).resolve()
    storage = os.environ.get("RISKMODELS_STORAGE_URL") or var.as_uri()
    return Settings(home=home, var=var, db_url=db_url, sources_file=sources, storage_url=storage.rstrip("/"))


@lru_cache(maxsize=16)
def _load_yaml(path: str, mtime: float) -> dict:
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def load_yaml(path: Path) -> dict:
    """Load a YAML config file (cached per path and modification time)."""
    path = Path(path)
    return _load_yaml(str(path), path.stat().st_mtime)


def thresholds(settings: Settings | None = None) -> dict:
    settings = settings or get_settings()
    return load_yaml(settings.home / "config" / "thresholds.yaml")


def validation_config(settings: Settings | None = None) -> dict:
    """How large frames are validated (config/validation.yaml, or ``RISKMODELS_VALIDATION``)."""
    settings = settings or get_settings()
    return load_yaml(Path(os.environ.get("RISKMODELS_VALIDATION", settings.home / "config" / "validation.yaml")))


_STDOUT_FOR_OUTPUT = False


def keep_stdout_for_output() -> None:
    """A command's stdout carries its output (JSON, paths): Airflow, if a later step imports it
    (a storage URL naming a connection, an SMTP lookup), configures logging to stdout; from now
    on :func:`airflow_logs_to_stderr` points those handlers at stderr and shows warnings only."""
    global _STDOUT_FOR_OUTPUT
    _STDOUT_FOR_OUTPUT = True
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    import sys

    if "airflow" in sys.modules:
        airflow_logs_to_stderr()


def airflow_logs_to_stderr() -> None:
    """Called after Airflow is imported: when :func:`keep_stdout_for_output` was called, move
    the root logger's stdout handlers to stderr (otherwise nothing)."""
    if not _STDOUT_FOR_OUTPUT:
        return
    import logging
    import sys

    import airflow  # noqa: F401 - its import configures the logging this redirects

    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout:
            handler.setStream(sys.stderr)
