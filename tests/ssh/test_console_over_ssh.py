"""The console over a real SSH session: OpenSSH server on loopback, the real ssh client
inside tmux at 80x24, keys only, as a supervisor on a jump box would use it."""

from __future__ import annotations

import os
import re
import shlex
import signal
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from console.client import HitlClient
from console.keystore import write_key_file
from console.local_store import Outbox
from store.samples import sample_escalations
from store.signing import public_key_b64
from tests.conftest import LiveBackend, restart_live_backend, stop_live_backend
from tests.sshd import SshServer, start_sshd, stop_sshd
from tests.tmux import Tmux

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[SshServer]:
    server = start_sshd(tmp_path / "sshd")
    yield server
    stop_sshd(server)


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    terminal = Tmux(width=80, height=24)
    yield terminal
    terminal.kill()


def test_ssh_session_in_tmux_is_an_80x24_terminal(sshd: SshServer, tmux: Tmux) -> None:
    """Logging in with the key shows the remote command's output on an 80x24 terminal
    with the TERM the client sent."""
    tmux.start(
        sshd.ssh_command('stty size; echo "term=$TERM"; sleep 30'),
        env={"TERM": "xterm-256color"},
    )
    screen = tmux.wait_for("term=")
    assert "24 80" in screen
    assert "term=xterm-256color" in screen


async def _console_config(live_backend: LiveBackend, tmp_path: Path) -> Path:
    """A supervisor's console config on the "jump box": token and an encrypted key file."""
    key = Ed25519PrivateKey.generate()
    key_file = tmp_path / "keys" / "signing.key"
    key_file.parent.mkdir(mode=0o700)
    write_key_file(key_file, key, "correct horse battery")
    async with HitlClient(live_backend.url, live_backend.supervisor_token) as supervisor:
        await supervisor.enroll_key(public_key_b64(key.public_key()))
    config = tmp_path / "config.toml"
    config.write_text(
        f'url = "{live_backend.url}"\n'
        f'token = "{live_backend.supervisor_token}"\n'
        'key_store = "file"\n'
        f'key_file = "{key_file}"\n'
        'key_passphrase = "correct horse battery"\n'
    )
    config.chmod(0o600)
    return config


def _remote(config: Path, tmp_path: Path, terminal_env: dict[str, str]) -> str:
    """The command run on the far side: the console, with its own user dirs (cache,
    outbox), writing its process id to ``tmp_path/console.pid`` first."""
    remote_env = {
        "HITL_CONFIG": str(config),
        "XDG_CACHE_HOME": str(tmp_path / "remote" / "cache"),
        "XDG_DATA_HOME": str(tmp_path / "remote" / "data"),
        **terminal_env,
    }
    return (
        f"cd {shlex.quote(str(ROOT))} && echo $$ > {shlex.quote(str(tmp_path / 'console.pid'))}"
        " && exec env "
        + " ".join(f"{k}={shlex.quote(v)}" for k, v in remote_env.items() if k != "TERM")
        + f" {shlex.quote(sys.executable)} -m console console"
    )


async def test_console_over_ssh_approves_a_case_with_keys_only(
    live_backend: LiveBackend,
    sshd: SshServer,
    tmux: Tmux,
    tmp_path: Path,
) -> None:
    """Over SSH at 80x24 (TERM=tmux-256color) the queue shows the agent's case; Enter
    opens it, `a` then `y` approve it with a signature, and the agent's status says
    approved by alice."""
    terminal_env = {"TERM": "tmux-256color"}
    escalation = sample_escalations(1)[0]
    async with HitlClient(live_backend.url, live_backend.agent_token) as agent:
        created = await agent.submit_escalation(escalation)
    config = await _console_config(live_backend, tmp_path)
    remote = _remote(config, tmp_path, terminal_env)
    tmux.start(sshd.ssh_command(remote), env={"TERM": terminal_env["TERM"]})
    title = escalation.summary[:24]
    tmux.wait_for(title, timeout=60)
    tmux.send_keys("Enter")
    tmux.wait_for(escalation.proposed_action.name, timeout=30)  # the case has loaded
    tmux.send_keys("a")
    tmux.wait_for(f"Approve case #{created.id}?", timeout=30)
    tmux.send_keys("y")

    async with HitlClient(live_backend.url, live_backend.agent_token) as agent:
        status = await agent.escalation(created.id, wait=30)
    assert status.status == "decided", tmux.screen()
    assert status.decision is not None
    assert status.decision.action == "approve"
    assert status.decision.decided_by == "alice"
    tmux.send_keys("q")


def _flat(screen: str) -> str:
    """The screen's words on one line (banners and toasts wrap)."""
    return " ".join(screen.split())


def _case_id(screen: str) -> int:
    found = re.search(r"#(\d+)\s+\S+\s+\S+\s+SLA", screen)
    assert found, screen
    return int(found.group(1))


@pytest.mark.timeout(300)  # two console starts and a backend restart on a busy box
@pytest.mark.parametrize(
    "terminal_env",
    [{"TERM": "xterm-256color"}, {"TERM": "xterm-256color", "NO_COLOR": "1"}],
    ids=["xterm-256color", "NO_COLOR"],
)
async def test_console_over_ssh_decides_offline_survives_kill_9_and_syncs(
    live_backend: LiveBackend,
    sshd: SshServer,
    tmp_path: Path,
    terminal_env: dict[str, str],
) -> None:
    """Over SSH at 80x24, keys only: alice claims two cases (c), the backend stops, the
    console says OFFLINE with the queue's age; she approves one (a, y) and it says "saved".
    The console is killed with SIGKILL: the decision is in the outbox (mode 0600). Started
    again with the backend still down it opens on the kept queue, OFFLINE, one decision
    saved; the backend returns (ctrl+r) and the decision is recorded, signed by alice."""
    async with HitlClient(live_backend.url, live_backend.agent_token) as agent:
        for escalation in sample_escalations(3):
            await agent.submit_escalation(escalation)
    config = await _console_config(live_backend, tmp_path)
    remote = _remote(config, tmp_path, terminal_env)
    term = {"TERM": terminal_env["TERM"]}

    tmux = Tmux(width=80, height=24)
    try:
        tmux.start(sshd.ssh_command(remote), env=term)
        tmux.wait_for("open cases", timeout=60)
        held = []
        for move in ([], ["j"]):
            tmux.send_keys(*move, "Enter")
            held.append(_case_id(tmux.wait_for(lambda s: "SLA" in s and "#" in s, timeout=30)))
            tmux.send_keys("c")
            tmux.wait_for("claimed by you", timeout=30)
            tmux.send_keys("Escape")
            tmux.wait_for("open cases", timeout=30)

        stop_live_backend(live_backend)
        tmux.send_keys("C-r")
        screen = tmux.wait_for(lambda s: "queue as of" in _flat(s), timeout=30)
        assert "OFFLINE" in screen
        tmux.send_keys("Enter")  # the cursor is still on the second case
        tmux.wait_for(f"#{held[1]}", timeout=30)
        tmux.send_keys("a")
        tmux.wait_for(f"Approve case #{held[1]}?", timeout=30)
        tmux.send_keys("y")
        tmux.wait_for(lambda s: "Saved (not sent yet)" in _flat(s), timeout=30)
        pid = int((tmp_path / "console.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        tmux.wait_for(lambda s: tmux.pane_dead(), timeout=30)
    finally:
        tmux.kill()

    [outbox_path] = (tmp_path / "remote" / "data" / "hitl").glob("outbox-*.db")
    assert stat.S_IMODE(outbox_path.stat().st_mode) == 0o600
    outbox = Outbox(outbox_path)
    assert [(e.case_id, e.action, e.state) for e in outbox.entries()] == [
        (held[1], "approve", "pending")
    ]
    outbox.close()

    tmux = Tmux(width=80, height=24)
    try:
        tmux.start(sshd.ssh_command(remote), env=term)
        # (the count of saved decisions is read from the outbox just after the first frame)
        screen = tmux.wait_for(
            lambda s: "queue as of" in _flat(s) and "1 decision saved, not sent yet" in _flat(s),
            timeout=40,
        )
        assert "OFFLINE" in screen
        restart_live_backend(live_backend)
        tmux.send_keys("C-r")  # (or wait: the console retries with backoff)
        tmux.wait_for(lambda s: "OFFLINE" not in s and "open case" in s, timeout=60)
        async with HitlClient(live_backend.url, live_backend.agent_token) as agent:
            status = await agent.escalation(held[1], wait=30)
            other = await agent.escalation(held[0])
        assert "OFFLINE" not in tmux.screen()
        tmux.send_keys("q")
    finally:
        tmux.kill()
    assert status.status == "decided" and status.decision is not None
    assert status.decision.action == "approve" and status.decision.decided_by == "alice"
    assert other.status != "decided"
