"""Shared fixtures: a migrated SQLite file, an in-process backend, a real uvicorn backend.

- ``backend_env``: the FastAPI app on a fresh SQLite file with a frozen, settable clock,
  an agent and a supervisor; drive it with ``backend_env.client(token)`` (ASGITransport)
  or put cases in with ``backend_env.submit(escalation)``.
- ``live_backend``: ``python -m backend serve`` as a real process on a free loopback port.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from backend.app import create_app
from backend.services.admin import add_agent, add_supervisor
from backend.services.escalations import submit_escalation
from backend.settings import BackendSettings
from backend.state import AppState
from console.client import HitlClient
from store.contracts import EscalationCreate, EscalationStatus
from store.db import make_engine, read_session
from store.migrate import upgrade
from store.tables import Agent

T0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
DOMAINS = ["payments", "moderation", "data-pipeline"]


@dataclass
class FrozenClock:
    """A clock tests move by hand; both backend and console can share one."""

    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture(autouse=True)
def _never_the_real_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reaches the developer's own keyring; keyring tests route to a private
    Secret Service (tests/keyring_service.py) explicitly."""
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per run: tests copy it (0.6 ms) instead of
    running the migrations again (0.7 s or more each)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "hitl.db"
    upgrade(f"sqlite:///{path}")
    return path


def copy_sqlite_template(template: Path, path: Path) -> str:
    """A fresh database at ``path``, migrated to head (a copy of ``template``)."""
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


@pytest.fixture(autouse=True)
def _private_user_dirs(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The console's cache and outbox (platformdirs' user cache and data dirs) go to a
    fresh directory per test, never the developer's own."""
    home = tmp_path_factory.mktemp("xdg")
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))


@pytest.fixture
def db_url(tmp_path: Path, sqlite_template: Path) -> str:
    return copy_sqlite_template(sqlite_template, tmp_path / "hitl.db")


@dataclass
class BackendEnv:
    app: FastAPI
    state: AppState
    clock: FrozenClock
    db_url: str
    agent_token: str
    agent_id: int
    supervisor_token: str
    supervisor_id: int
    _clients: list[HitlClient] = field(default_factory=list)
    #: Set by the console tests' ``over_loopback``: a uvicorn server serving ``app``.
    loopback_url: str | None = None

    def client(self, token: str | None = None) -> HitlClient:
        """A client that talks to the app in-process (no sockets)."""
        client = HitlClient(
            "http://hitl.test",
            token if token is not None else self.supervisor_token,
            transport=httpx.ASGITransport(app=self.app),
        )
        self._clients.append(client)
        return client

    def submit(self, escalation: EscalationCreate) -> EscalationStatus:
        """Store a case as the agent would, without HTTP (fast set-up)."""
        with read_session(self.state.engine) as session:
            agent = session.get(Agent, self.agent_id)
        assert agent is not None
        status, _ = submit_escalation(self.state, agent=agent, escalation=escalation)
        return status

    def add_supervisor(
        self, name: str, groups: list[str], role: str = "supervisor"
    ) -> tuple[int, str]:
        return add_supervisor(self.state.engine, name=name, role=role, groups=groups)


@pytest.fixture
def frozen_clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def backend_env(tmp_path: Path, db_url: str, frozen_clock: FrozenClock) -> Iterator[BackendEnv]:
    settings = BackendSettings(database_url=db_url, server_key=tmp_path / "server.pem")
    app = create_app(settings, clock=frozen_clock)
    state: AppState = app.state.hitl
    agent_id, agent_token = add_agent(state.engine, name="refund-bot", domains=DOMAINS)
    sup_id, sup_token = add_supervisor(
        state.engine, name="alice", role="supervisor", groups=DOMAINS
    )
    env = BackendEnv(app, state, frozen_clock, db_url, agent_token, agent_id, sup_token, sup_id)
    yield env
    state.engine.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveBackend:
    url: str
    db_url: str
    server_key: Path
    process: subprocess.Popen[bytes]
    log: Path
    agent_token: str
    agent_id: int
    supervisor_token: str
    supervisor_id: int


def admin_cli(db_url: str, *args: str) -> dict[str, object]:
    """Run ``backend admin ... --json`` as an operator would and return what it printed."""
    out = subprocess.run(
        [sys.executable, "-m", "backend", "admin", *args, "--database-url", db_url, "--json"],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


def start_live_backend(tmp_path: Path) -> LiveBackend:
    """The server is a real process; its database is made here (a migrated copy, an agent
    and a supervisor written directly), which the CLI tests cover on their own."""
    db_url = f"sqlite:///{tmp_path / 'live.db'}"
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        agent_id, agent_token = add_agent(engine, name="refund-bot", domains=DOMAINS)
        sup_id, sup_token = add_supervisor(engine, name="alice", role="supervisor", groups=DOMAINS)
    finally:
        engine.dispose()
    port = free_port()
    log = tmp_path / "backend.log"
    url = f"http://127.0.0.1:{port}"
    proc = _serve(db_url, port, tmp_path / "server.pem", log)
    return LiveBackend(
        url, db_url, tmp_path / "server.pem", proc, log, agent_token, agent_id, sup_token, sup_id
    )


def _serve(db_url: str, port: int, server_key: Path, log: Path) -> subprocess.Popen[bytes]:
    """``python -m backend serve`` on ``port``, once it answers ``/healthz``."""
    env = {**os.environ, "HITL_DATABASE_URL": db_url}
    with log.open("ab") as fh:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "backend",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--server-key",
                str(server_key),
                "--log-level",
                "warning",
            ],
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90  # a loaded 2-core CI box imports slowly
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"backend did not start:\n{log.read_text()}")
        time.sleep(0.1)
    return proc


def restart_live_backend(backend: LiveBackend) -> None:
    """Start a stopped live backend again: same port, database and server key."""
    port = int(backend.url.rsplit(":", 1)[1])
    backend.process = _serve(backend.db_url, port, backend.server_key, backend.log)


def stop_live_backend(backend: LiveBackend) -> None:
    backend.process.terminate()
    try:
        backend.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        backend.process.kill()
        backend.process.wait()


@pytest.fixture
def live_backend(tmp_path: Path) -> Iterator[LiveBackend]:
    """A real uvicorn server on a free loopback port with a fresh SQLite file."""
    backend = start_live_backend(tmp_path)
    yield backend
    stop_live_backend(backend)
