"""Console fixtures on top of ``backend_env``: a seeded backend and a ready-to-run app.

Everything runs at the frozen time ``T0`` with a fixed signing key, so Pilot tests and
snapshots are deterministic. The console reaches the backend in-process
(``httpx.ASGITransport``) or, in modules that use the ``over_loopback`` fixture, over TCP
through a real uvicorn server on 127.0.0.1 serving the same app.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from pytest_textual_snapshot import SVGImageExtension
from rich.console import Console
from textual.app import App
from textual.pilot import Pilot

from console.app import HitlApp
from console.client import HitlClient
from console.config import ConsoleSettings
from console.offline import LocalFiles, OfflineClient
from console.screens.case import CaseScreen
from console.widgets.queue_table import QueueTable
from store.contracts import CasePublic, QueueItem, QueuePage, SupervisorMe
from store.samples import sample_escalations
from store.signing import public_key_b64
from tests.conftest import BackendEnv, free_port

# pytest-textual-snapshot 1.0 sets `_file_extension`; syrupy 7 reads `file_extension`, so
# without this the snapshots are written as `.raw` files instead of viewable `.svg` ones.
SVGImageExtension.file_extension = "svg"


def fixed_key(label: str = "alice") -> Ed25519PrivateKey:
    """The same Ed25519 key on every run (never a real key)."""
    return Ed25519PrivateKey.from_private_bytes(
        hashlib.sha256(f"hitl-test:{label}".encode()).digest()
    )


@dataclass
class ConsoleEnv:
    """A backend seeded with sample escalations and an enrolled supervisor key."""

    backend: BackendEnv
    key: Ed25519PrivateKey
    me: SupervisorMe
    http: TestClient
    _apps: list[HitlApp] = field(default_factory=list)

    def app(
        self,
        *,
        page_size: int = 50,
        demo: bool = False,
        flaky: FlakyTransport | None = None,
        refresh_every: float | None = 30.0,
        settings: ConsoleSettings | None = None,
        local: LocalFiles | None = None,
        **kwargs: Any,
    ) -> HitlApp:
        """The console as alice, at the backend's frozen time; ``flaky`` wraps the transport;
        with ``local`` it runs offline-aware (:class:`~console.offline.OfflineClient`).
        Other keyword arguments go to :class:`HitlApp` (``key``, ``backoff``, ``keymap``)."""
        if local is not None:
            transport = flaky or httpx.ASGITransport(app=self.backend.app)
            client: HitlClient = OfflineClient(
                "http://hitl.test", self.backend.supervisor_token, local=local, transport=transport
            )
        elif flaky is None and self.backend.loopback_url is not None:
            client = HitlClient(self.backend.loopback_url, self.backend.supervisor_token)
        elif flaky is None:
            client = self.backend.client()
        else:
            client = HitlClient("http://hitl.test", self.backend.supervisor_token, transport=flaky)
        kwargs.setdefault("key", self.key)
        app = HitlApp(
            settings or ConsoleSettings(url="http://hitl.test", demo=demo),
            client=client,
            me=self.me,
            clock=self.backend.clock,
            page_size=page_size,
            refresh_every=refresh_every,
            **kwargs,
        )
        self._apps.append(app)
        return app

    def _get(self, path: str, token: str | None = None) -> dict[str, object]:
        token = token or self.backend.supervisor_token
        response = self.http.get(path, headers={"Authorization": f"Bearer {token}"})
        response.raise_for_status()
        data: dict[str, object] = response.json()
        return data

    def case(self, case_id: int) -> CasePublic:
        """The case as the backend has it now (sync, for assertions)."""
        return CasePublic.model_validate(self._get(f"/v1/cases/{case_id}"))

    def queue(self) -> list[QueueItem]:
        return QueuePage.model_validate(self._get("/v1/queue?limit=200")).items

    def flaky(self) -> FlakyTransport:
        return FlakyTransport(httpx.ASGITransport(app=self.backend.app))

    def claim_as(self, token: str, case_id: int) -> None:
        response = self.http.post(
            f"/v1/cases/{case_id}/claim", headers={"Authorization": f"Bearer {token}"}
        )
        response.raise_for_status()


def make_console_env(
    backend_env: BackendEnv, cases: int, *, every: float = 30, then: float = 0
) -> ConsoleEnv:
    """Submit ``cases`` samples ``every`` seconds apart, then let ``then`` seconds pass.

    Cases created at different times give the queue a realistic mix of SLA time left.
    """
    for escalation in sample_escalations(cases):
        backend_env.submit(escalation)
        backend_env.clock.advance(every)
    backend_env.clock.advance(then)
    http = TestClient(backend_env.app)
    key = fixed_key()
    auth = {"Authorization": f"Bearer {backend_env.supervisor_token}"}
    response = http.post(
        "/v1/me/keys", headers=auth, json={"public_key": public_key_b64(key.public_key())}
    )
    response.raise_for_status()
    me = SupervisorMe.model_validate(http.get("/v1/me", headers=auth).json())
    return ConsoleEnv(backend_env, key, me, http)


@pytest.fixture(autouse=True)
def _isolated_console_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No user config, keyring or color settings leak into the console under test."""
    monkeypatch.setenv("HITL_CONFIG", str(tmp_path_factory.mktemp("cfg") / "absent.toml"))
    for name in ("HITL_URL", "HITL_TOKEN", "HITL_DEMO", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def console_env(backend_env: BackendEnv) -> Iterator[ConsoleEnv]:
    """12 sample cases: enough for every screen, fast to seed."""
    env = make_console_env(backend_env, 12)
    yield env
    env.http.close()


class LoopbackServer:
    """A real uvicorn server on a free 127.0.0.1 port, in a thread, serving ``app``.

    Lifespan is off, as with the in-process transport: the app's state is the fixture's
    (frozen clock, no sweeper), only the transport is real HTTP over TCP."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, lifespan="off", log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)

    def __enter__(self) -> LoopbackServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the loopback uvicorn server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.server.force_exit = True  # don't wait for the console's pending long-poll
        self.thread.join(timeout=10)


@pytest.fixture
def over_loopback(backend_env: BackendEnv) -> Iterator[str]:
    """Consoles made from this backend reach it through a real uvicorn on loopback (apps
    given a ``flaky`` transport or ``local`` files keep theirs); yields its URL."""
    with LoopbackServer(backend_env.app) as server:
        backend_env.loopback_url = server.url
        yield server.url
        backend_env.loopback_url = None


@pytest.fixture
def demo_env(backend_env: BackendEnv) -> Iterator[ConsoleEnv]:
    """The 40 cases ``hitl demo`` seeds."""
    env = make_console_env(backend_env, 40, then=300)
    yield env
    env.http.close()


# -- helpers for Pilot tests -------------------------------------------------------------


async def wait_until(pilot: Pilot[Any], predicate: Callable[[], object], within: float = 5) -> None:
    """Let the app run until ``predicate()`` is true (workers answer asynchronously)."""
    deadline = asyncio.get_running_loop().time() + within
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {predicate}:\n{screen_text(pilot.app)}")
        await pilot.pause(0.02)


async def loaded_queue(pilot: Pilot[Any]) -> QueueTable:
    """The queue table once its first page is in."""
    table = pilot.app.screen.query_one(QueueTable)
    await wait_until(pilot, lambda: table.row_count > 0)
    return table


async def open_case(pilot: Pilot[Any], row: int = 0) -> CaseScreen:
    """Open the case on ``row`` of the queue and wait until it is shown."""
    table = await loaded_queue(pilot)
    table.move_cursor(row=row)
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, CaseScreen))
    screen = pilot.app.screen
    assert isinstance(screen, CaseScreen)
    await wait_until(pilot, lambda: screen.case is not None)
    await case_extras(pilot, screen)
    return screen


async def case_extras(pilot: Pilot[Any], screen: CaseScreen) -> None:
    """Wait until the case's history and related cases (fetched after it is painted) are
    shown, so what follows sees the whole case."""
    from console.widgets.case_view import CaseView

    await wait_until(pilot, lambda: bool(screen.query(CaseView)))
    view = screen.query_one(CaseView)
    await wait_until(pilot, lambda: view.extras_loaded)
    await pilot.pause()


def screen_text(app: App[Any]) -> str:
    """What the terminal shows right now, as plain text (the screen and any dialog on it)."""
    width, height = app.size
    console = Console(
        width=width, height=height, file=io.StringIO(), record=True, legacy_windows=False
    )
    console.print(
        app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    )
    return console.export_text()


@dataclass(frozen=True)
class Notice:
    title: str
    message: str
    severity: str


def record_notifications(app: App[Any]) -> list[Notice]:
    """Every ``notify`` the app shows from now on (toasts are not kept in test mode)."""
    seen: list[Notice] = []
    original = app.notify

    def notify(message: str, *, title: str = "", severity: Any = "information", **kw: Any) -> None:
        seen.append(Notice(title, str(message), str(severity)))
        original(message, title=title, severity=severity, **kw)

    app.notify = notify  # type: ignore[method-assign]
    return seen


class FlakyTransport(httpx.AsyncBaseTransport):
    """Passes requests to the backend, except the ones ``fail`` picks: those cannot connect
    (or, with ``hang``, never answer until httpx's timeout). ``delay`` slows every answer."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.fail: Callable[[httpx.Request], bool] = lambda request: False
        self.hang = False
        self.delay = 0.0
        self.sent: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(f"{request.method} {request.url.path}")
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail(request):
            if self.hang:
                raise httpx.ReadTimeout("timed out", request=request)
            raise httpx.ConnectError("connection refused", request=request)
        return await self.inner.handle_async_request(request)


@dataclass
class Frames:
    """What a console wrote to its terminal: ``(seconds, bytes)`` per frame."""

    writes: list[tuple[float, int]] = field(default_factory=list)

    def since(self, start: int) -> int:
        """Bytes written in the frames after the first ``start`` ones."""
        return sum(n for _, n in self.writes[start:])


def render_frames(app: App[Any]) -> Frames:
    """Make ``app.run_test(headless=False)`` build every frame as a terminal would receive
    it (escape sequences and all) and count the bytes, instead of writing them."""
    from textual.drivers.headless_driver import HeadlessDriver

    frames = Frames()

    class CountingDriver(HeadlessDriver):
        @property
        def is_headless(self) -> bool:
            return False

        def write(self, data: str) -> None:
            frames.writes.append((asyncio.get_running_loop().time(), len(data.encode())))

    app.driver_class = CountingDriver
    return frames
