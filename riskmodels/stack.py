"""Start and stop a real Airflow stack on this machine: api-server, scheduler, dag-processor
(and a Celery worker), on PostgreSQL metadata, bound to loopback ports. Used by ``make airflow``
and by the scheduler tests; nothing here is needed by the pipeline itself.
"""
from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path


def worker_hostname() -> str:
    """The host name a worker's task instances record (``[core] hostname_callable``):
    ``RISKMODELS_WORKER_NAME`` when set (several workers on one test machine), else the FQDN."""
    return os.environ.get("RISKMODELS_WORKER_NAME") or socket.getfqdn()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class AirflowStack:
    """An Airflow deployment in ``home`` with its own metadata database URL and executor.

    Parameters
    ----------
    home : Path
        AIRFLOW_HOME (logs, config) for this stack.
    metadata_url : str
        SQLAlchemy URL of the metadata database (PostgreSQL), e.g.
        ``postgresql+psycopg2://postgres@127.0.0.1:5432/airflow``.
    dags_folder : Path
        The project's ``dags/``.
    executor : {"LocalExecutor", "CeleryExecutor"}
    broker_url : str, optional
        Celery broker (Redis) for the CeleryExecutor.
    env : dict
        Extra environment (the risk store URL, RISKMODELS_VAR, ...).
    workers : list of dict, optional
        CeleryExecutor: one Celery worker per entry, each with this extra environment (e.g. its
        own ``RISKMODELS_VAR`` and ``RISKMODELS_WORKER_NAME``, the host name its task instances
        record); default one worker.
    worker_concurrency : int
        Task slots per Celery worker.
    """

    home: Path
    metadata_url: str
    dags_folder: Path
    executor: str = "LocalExecutor"
    broker_url: str | None = None
    env: dict = field(default_factory=dict)
    workers: list = field(default_factory=lambda: [{}])
    worker_concurrency: int = 4
    api_port: int = field(default_factory=free_port)
    processes: dict = field(default_factory=dict)
    jwt_secret: str = field(default_factory=lambda: secrets.token_hex(32))  # shared by every process

    def environ(self) -> dict:
        e = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        e.update({
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__EXECUTOR": self.executor,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.metadata_url,
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{self.api_port}",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.api_port}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": self.jwt_secret,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.home / "passwords.json"),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        })
        if self.executor == "CeleryExecutor":
            e["AIRFLOW__CELERY__BROKER_URL"] = self.broker_url or "redis://127.0.0.1:6379/0"
            e["AIRFLOW__CELERY__RESULT_BACKEND"] = "db+" + self.metadata_url.replace("+psycopg2", "")
            e["AIRFLOW__CELERY__WORKER_CONCURRENCY"] = str(self.worker_concurrency)
        # task instances record the host name a worker reports (RISKMODELS_WORKER_NAME if set)
        e["AIRFLOW__CORE__HOSTNAME_CALLABLE"] = "riskmodels.stack.worker_hostname"
        e.update(self.env)
        return e

    def airflow(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        exe = str(Path(sys.executable).with_name("airflow"))
        return subprocess.run([exe, *args], env=self.environ(), capture_output=True, text=True, timeout=timeout)

    def migrate(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        out = self.airflow("db", "migrate")
        if out.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")

    def start(self, admin_password: str = "admin") -> None:
        """Start the processes in the background (logs in ``home/<name>.log``); the UI user is
        ``admin`` with ``admin_password`` unless a passwords file already exists."""
        exe = str(Path(sys.executable).with_name("airflow"))
        passwords = self.home / "passwords.json"
        if not passwords.exists():
            passwords.write_text(f'{{"admin": "{admin_password}"}}')
        commands = {"api-server": (["api-server", "--host", "127.0.0.1", "--port", str(self.api_port)], {}),
                    "scheduler": (["scheduler"], {}), "dag-processor": (["dag-processor"], {})}
        if self.executor == "CeleryExecutor":
            for i, extra in enumerate(self.workers):
                name = "celery-worker" if len(self.workers) == 1 else f"celery-worker-{i + 1}"
                commands[name] = (["celery", "worker", "--concurrency", str(self.worker_concurrency),
                                   "--celery-hostname", f"{extra.get('RISKMODELS_WORKER_NAME', name)}@%h"], extra)
        for name, (args, extra) in commands.items():
            log = open(self.home / f"{name}.log", "w")  # noqa: SIM115 - closed in stop()
            self.processes[name] = (subprocess.Popen([exe, *args], env={**self.environ(), **extra}, stdout=log,
                                                     stderr=subprocess.STDOUT, start_new_session=True), log)

    def workers_ready(self) -> bool:
        """Every Celery worker has said it is ready (in its log)."""
        logs = [self.home / f"{n}.log" for n in self.processes if n.startswith("celery-worker")]
        return all(f.exists() and " ready." in f.read_text(errors="replace") for f in logs)

    def stop(self) -> None:
        for proc, _ in self.processes.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc, log in self.processes.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
            log.close()
        self.processes.clear()

    def dead(self) -> list[str]:
        return [n for n, (p, _) in self.processes.items() if p.poll() is not None]

    def failed_task_logs(self, dag_id: str, run_id: str, tail: int = 12000) -> str:
        """The last attempt's log of every task of one run that did not succeed (read first
        when a run failed: the errors, not the scheduler's chatter)."""
        parts = []
        for task_dir in sorted((self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}").glob("task_id=*")):
            attempts = sorted(task_dir.rglob("attempt=*.log"), key=lambda f: f.stat().st_mtime)
            text = attempts[-1].read_text(errors="replace") if attempts else ""
            if '"level": "error"' in text or '"level":"error"' in text or "Traceback" in text:
                parts.append(f"===== {attempts[-1].relative_to(self.home)}\n{text[-tail:]}")
        return "\n".join(parts) or f"(no task of {run_id} logged an error)"

    def logs(self, tail: int = 4000) -> str:
        parts = []
        for f in sorted(self.home.glob("*.log")) + sorted((self.home / "logs").rglob("*.log")):
            text = f.read_text(errors="replace")
            parts.append(f"===== {f.relative_to(self.home)}\n{text[-tail:]}")
        return "\n".join(parts)


def main() -> None:  # pragma: no cover - an interactive helper (make airflow)
    """``make airflow``: a local api-server, scheduler and dag-processor (LocalExecutor) on
    PostgreSQL metadata until Ctrl-C. UI on http://127.0.0.1:8080, user admin / admin."""
    import sqlalchemy as sa

    root = Path(__file__).resolve().parent.parent
    url = os.environ.get("AIRFLOW_METADATA_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/airflow")
    target = sa.engine.make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": target.database}).first():
            conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    stack = AirflowStack(home=root / "var" / "airflow-stack", metadata_url=url, dags_folder=root / "dags",
                         executor=os.environ.get("AIRFLOW_EXECUTOR", "LocalExecutor"),
                         api_port=int(os.environ.get("AIRFLOW_PORT", "8080")),
                         env={"RISKMODELS_HOME": str(root)})
    stack.migrate()
    stack.start()
    print(f"Airflow UI: http://127.0.0.1:{stack.api_port}  (user admin, password admin; logs in {stack.home})")
    print("Unpause ai_stack_daily in the UI to let the scheduler run it. Ctrl-C stops everything.")
    try:
        while not stack.dead():
            time.sleep(2)
        print(f"{stack.dead()} exited; see the logs in {stack.home}")
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()


if __name__ == "__main__":  # pragma: no cover
    main()
