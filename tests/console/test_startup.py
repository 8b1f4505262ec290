"""Starting the console fast: the first screen's data over a plain connection, the signing
key unlocked beside the start-up, and the key's problems shown without blocking reading."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from console.client import HitlClient
from console.config import ConsoleSettings
from console.errors import AuthError, BackendUnreachable, KeyStoreError
from console.keystore import write_key_file
from console.screens.approve_dialog import ApproveDialog
from console.screens.case import CaseScreen
from console.signin import sign_in
from console.widgets.banner import Banner
from store.samples import sample_escalations
from store.signing import public_key_b64
from tests.conftest import LiveBackend, free_port
from tests.console.conftest import (
    ConsoleEnv,
    loaded_queue,
    open_case,
    record_notifications,
    screen_text,
    wait_until,
)

PASSPHRASE = "correct horse battery staple"


async def _seed(backend: LiveBackend, n: int = 3) -> list[int]:
    async with HitlClient(backend.url, backend.agent_token) as agent:
        return [(await agent.submit_escalation(e)).id for e in sample_escalations(n)]


async def test_start_fetches_me_and_the_first_page_over_a_plain_connection(
    live_backend: LiveBackend,
) -> None:
    """The first screen's data (who am I, the first queue page) comes from a real backend
    over the standard library's HTTP client, parsed into the same contracts."""
    ids = await _seed(live_backend)
    async with HitlClient(live_backend.url, live_backend.supervisor_token) as client:
        me, page = await client.start(page_size=2)
        assert me.name == "alice"
        assert len(page.items) == 2 and page.next_cursor is not None
        assert {item.id for item in page.items} <= set(ids)
        assert client._client is None  # httpx not even set up yet
        later = await client.queue(limit=50)  # the usual path works after it
        assert {item.id for item in later.items} == set(ids)


async def test_start_says_what_is_wrong(live_backend: LiveBackend) -> None:
    """A rejected token and a dead port give the same errors as the rest of the client."""
    async with HitlClient(live_backend.url, "hitl_sup_wrong") as client:
        with pytest.raises(AuthError):
            await client.start()
    dead = f"http://127.0.0.1:{free_port()}"
    async with HitlClient(dead, live_backend.supervisor_token) as client:
        with pytest.raises(BackendUnreachable, match=f"cannot reach {dead}"):
            await client.start()


def _key_file(tmp_path: Path, key: Ed25519PrivateKey) -> Path:
    folder = tmp_path / "keys"
    folder.mkdir(mode=0o700)
    path = folder / "alice.key"
    write_key_file(path, key, PASSPHRASE)
    return path


async def test_sign_in_returns_before_the_key_is_checked(
    live_backend: LiveBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sign_in hands back who we are and the queue while the key file is unlocked aside;
    a key the backend never enrolled fails there, with what to run, not at sign-in."""
    monkeypatch.setenv("HITL_CONFIG", str(tmp_path / "absent.toml"))
    await _seed(live_backend, 1)
    enrolled, stranger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    async with HitlClient(live_backend.url, live_backend.supervisor_token) as sup:
        await sup.enroll_key(public_key_b64(enrolled.public_key()))
    for key, ok in ((enrolled, True), (stranger, False)):
        folder = tmp_path / ("good" if ok else "bad")
        folder.mkdir()
        settings = ConsoleSettings(
            url=live_backend.url,
            token=live_backend.supervisor_token,
            key_store="file",
            key_file=_key_file(folder, key),
            key_passphrase=PASSPHRASE,
        )
        identity = await sign_in(settings)
        async with identity.client:
            assert identity.me.name == "alice" and identity.page.items
            if ok:
                assert (await identity.key).public_key() == key.public_key()
            else:
                with pytest.raises(KeyStoreError, match="not enrolled"):
                    await identity.key


async def test_deciding_waits_for_the_key_reading_does_not(console_env: ConsoleEnv) -> None:
    """While the key is being unlocked the queue and cases work; a says the key is being
    unlocked and opens the approval as soon as it is (the key press is not lost)."""
    unlocked: asyncio.Future[Ed25519PrivateKey] = asyncio.get_running_loop().create_future()
    app = console_env.app(key=unlocked)
    notices = record_notifications(app)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_case(pilot)
        await pilot.press("a")
        await wait_until(pilot, lambda: bool(notices))
        assert "Unlocking your signing key" in notices[-1].message
        await pilot.pause(0.2)
        assert isinstance(app.screen, CaseScreen)
        unlocked.set_result(console_env.key)
        await wait_until(pilot, lambda: isinstance(app.screen, ApproveDialog))


async def test_a_key_that_cannot_be_used_is_shown_and_reading_goes_on(
    console_env: ConsoleEnv,
) -> None:
    """A key that cannot be unlocked puts the reason in a banner on every screen; cases can
    still be read, and a repeats the reason instead of opening the approval."""

    async def refuse() -> Ed25519PrivateKey:
        raise KeyStoreError("wrong passphrase for key file /home/alice/.local/hitl.key")

    app = console_env.app(key=refuse())
    notices = record_notifications(app)
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded_queue(pilot)
        await wait_until(pilot, lambda: app.key_problem is not None)
        await pilot.pause()
        assert "cannot sign: wrong passphrase" in app.screen.query_one(Banner).text
        await open_case(pilot)
        assert "wrong passphrase" in screen_text(app)
        await pilot.press("a")
        await wait_until(pilot, lambda: notices[-1].title == "Cannot sign")
        assert isinstance(app.screen, CaseScreen)


async def test_a_case_read_on_its_row_opens_at_once(console_env: ConsoleEnv) -> None:
    """Resting on a row fetches its case ahead: enter shows it in the very first frame, and
    the next case opened in the same (reused) screen is that case, not the last one."""
    app = console_env.app()
    async with app.run_test(size=(100, 30)) as pilot:
        table = await loaded_queue(pilot)
        first = table.current_case_id
        await wait_until(pilot, lambda: first in app.case_cache)
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, CaseScreen)
        assert screen.case is not None and screen.case.id == first  # no loading step
        await pilot.press("escape")
        await pilot.press("j")
        second = table.current_case_id
        await wait_until(pilot, lambda: second in app.case_cache)
        await pilot.press("enter")
        assert app.screen is screen and screen.case_id == second
        await pilot.pause()
        header = screen_text(app).splitlines()[1]
        assert header.split()[0] == f"#{second}"


def _hitl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HITL_TOKEN": "hitl_sup_x", "HITL_CONFIG": "/nonexistent"},
    )


def test_hitl_console_starts_without_the_command_line_machinery() -> None:
    """`hitl console --url U` takes the short way (and says plainly when U is unreachable);
    `hitl console --help` and other arguments still get the full command line."""
    dead = f"http://127.0.0.1:{free_port()}"
    run = _hitl("console", "--url", dead)
    assert run.returncode == 1
    assert run.stderr.startswith(f"hitl: cannot reach {dead}")
    helped = _hitl("console", "--help")
    assert helped.returncode == 0 and "Open the supervisor console" in helped.stdout
    wrong = _hitl("console", "--no-such-option")
    assert wrong.returncode == 2 and "No such option" in wrong.stderr
