"""Real processes for the tests: our web servers and Celery processes on a database of the tests' choosing, and
Redis and PostgreSQL servers of their own on free ports, which a test may stop and start again (the machine's
own servers are never touched)."""
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require(available: bool, what: str) -> None:
    """Skip where a tool the suite drives is not installed, but never in CI, which installs it (.ci/run)."""
    if available:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing: .ci/run installs it, so this run is broken.")
    pytest.skip(f"{what} is not installed here (make test installs it where it can; CI always does).")


def wait_for_port(port: int, process: subprocess.Popen | None = None, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the process exited: {getattr(process, 'log_path', Path('/dev/null')).read_text()[-3000:]}")
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


def spawn(command: list[str], env: dict, name: str) -> subprocess.Popen:
    """A process of ours whose output goes to `process.log_path` (a pipe nobody reads would fill up and stall it)."""
    log = tempfile.NamedTemporaryFile(prefix=f"om-{name}-", suffix=".log", delete=False)
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    process.log_path = Path(log.name)
    return process


def stop(process: subprocess.Popen, sig=signal.SIGTERM, timeout: float = 20) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def app_env(database_url: str, extra: dict | None = None) -> dict:
    return {**os.environ, "DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "openmemory.settings",
            "API_THROTTLE_RATE": "100000/min", "OAUTH_REGISTRATION_RATE": "100000/hour", **(extra or {})}


def start_server(kind: str, port: int, env: dict, workers: int = 1) -> subprocess.Popen:
    command = {
        "uvicorn": [sys.executable, "-m", "uvicorn", "openmemory.asgi:application", "--host", "127.0.0.1",
                    "--port", str(port), "--no-access-log", "--workers", str(workers)],
        "daphne": [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "openmemory.asgi:application"],
    }[kind]
    process = spawn(command, env, kind)
    try:
        wait_for_port(port, process)
    except RuntimeError:
        stop(process)
        raise
    return process


def start_celery(kind: str, env: dict) -> subprocess.Popen:
    """The Procfile's worker or beat."""
    command = [sys.executable, "-m", "celery", "-A", "openmemory", kind, "--loglevel", "INFO"]
    if kind == "worker":
        command += ["--concurrency", "2", "--without-gossip", "--without-mingle"]
    else:
        command += ["--schedule", tempfile.mktemp(prefix="om-beat-")]
    return spawn(command, env, kind)


class RedisServer:
    """A redis-server of the test's own, on a free port: stop() and start() are an outage."""

    def __init__(self):
        require(shutil.which("redis-server") is not None, "redis-server")
        self.port, self.process = free_port(), None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        self.process = spawn(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no"], dict(os.environ), "redis")
        wait_for_port(self.port, self.process)
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process, signal.SIGKILL)  # an outage, not a shutdown
            self.process = None


class PostgresServer:
    """PostgreSQL with pgvector (pgserver's, as CI runs it) of the test's own: stop() and start() are an outage.
    Needs what .ci/pgvector-server needs (the pgserver wheel in the virtualenv)."""

    def __init__(self, max_connections: int = 100):
        self.port, self.max_connections = free_port(), max_connections
        self.data = Path(tempfile.mkdtemp(prefix="om-pg-"))
        self.data.chmod(0o755)  # the server runs as an unprivileged user of its own when we are root

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/openmemory"

    def _script(self, *args) -> str:
        done = subprocess.run([str(ROOT / ".ci" / "pgvector-server"), sys.executable, str(self.port), *args],
                              env={**os.environ, "OM_PGDATA": str(self.data / "pg"),
                                   "OM_PG_MAX_CONNECTIONS": str(self.max_connections)},
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(done.stdout + done.stderr)
        return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""

    def start(self) -> "PostgresServer":
        self._script()
        return self

    def stop(self) -> None:
        self._script("stop")

    def psql(self, sql: str) -> str:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as connection:
            rows = connection.execute(sql).fetchall()
        return rows[0][0] if rows and len(rows[0]) == 1 and len(rows) == 1 else rows


def migrate(database_url: str, env: dict | None = None) -> None:
    done = subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT,
                          env=app_env(database_url, env), capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])


def eventually(check, *, within: float = 60, every: float = 0.2) -> bool:
    """Whether check() comes true within `within` seconds: a wait for what a test cannot order (a server coming
    back), generous, so that a busy machine waits longer and never fails sooner. Not a measure of speed."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(every)
    return True
