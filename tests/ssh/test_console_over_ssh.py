"""The console over a real SSH session: OpenSSH server on loopback, the real ssh client
inside tmux at 80x24, keys only, as a supervisor on a jump box would use it."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from console.client import HitlClient
from console.keystore import write_key_file
from store.samples import sample_escalations
from store.signing import public_key_b64
from tests.conftest import LiveBackend
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


@pytest.mark.parametrize(
    "terminal_env",
    [{"TERM": "tmux-256color"}, {"TERM": "xterm-256color"}, {"NO_COLOR": "1"}],
    ids=["tmux-256color", "xterm-256color", "NO_COLOR"],
)
async def test_console_over_ssh_approves_a_case_with_keys_only(
    live_backend: LiveBackend,
    sshd: SshServer,
    tmux: Tmux,
    tmp_path: Path,
    terminal_env: dict[str, str],
) -> None:
    """Over SSH at 80x24 the queue shows the agent's case; Enter opens it, `a` then `y`
    approve it with a signature, and the agent's status says approved by alice."""
    escalation = sample_escalations(1)[0]
    async with HitlClient(live_backend.url, live_backend.agent_token) as agent:
        created = await agent.submit_escalation(escalation)
    config = await _console_config(live_backend, tmp_path)
    remote_env = {"HITL_CONFIG": str(config), **terminal_env}
    remote = (
        f"cd {shlex.quote(str(ROOT))} && env "
        + " ".join(f"{k}={shlex.quote(v)}" for k, v in remote_env.items() if k != "TERM")
        + f" {shlex.quote(sys.executable)} -m console console"
    )
    tmux.start(sshd.ssh_command(remote), env={"TERM": terminal_env.get("TERM", "xterm")})
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
