"""Bytes the console writes to the terminal per navigation keypress, over a real SSH session.

A script, not a test: it prints figures. Over a slow link every byte of a repaint is
latency, so this measures what a supervisor's keypress costs on the wire:

- a real backend (uvicorn on loopback) with ``--cases`` open cases;
- a real OpenSSH server on loopback (tests/sshd.py), the real ``ssh`` client in tmux
  at 80x24 (tests/tmux.py), ``hitl console`` on the far side;
- tmux's ``pipe-pane`` records every byte the ssh client writes to its terminal (what the
  link carried, decrypted). For each key the recorder's growth until the terminal has
  been quiet for 0.3 s is taken, minus what the idle repaints (the SLA countdown, measured
  over 6 s with no key pressed and reported per second) would have added meanwhile.

Run: ``.venv/bin/python tests/bench/bench_ssh_bytes.py [--cases 200] [--presses 40]``.
Needs sshd, ssh and tmux (``make sysdeps`` as root).
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from console.client import HitlClient  # noqa: E402
from console.keystore import write_key_file  # noqa: E402
from store.samples import sample_escalations  # noqa: E402
from store.signing import public_key_b64  # noqa: E402
from tests.conftest import start_live_backend, stop_live_backend  # noqa: E402
from tests.sshd import start_sshd, stop_sshd  # noqa: E402
from tests.tmux import Tmux  # noqa: E402

QUIET = 0.3


async def _seed(url: str, agent_token: str, supervisor_token: str, cases: int, tmp: Path) -> Path:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    async with HitlClient(url, agent_token) as agent:
        for escalation in sample_escalations(cases):
            await agent.submit_escalation(escalation)
    key = Ed25519PrivateKey.generate()
    key_file = tmp / "keys" / "signing.key"
    key_file.parent.mkdir(mode=0o700)
    write_key_file(key_file, key, "bench passphrase")
    async with HitlClient(url, supervisor_token) as supervisor:
        await supervisor.enroll_key(public_key_b64(key.public_key()))
    config = tmp / "config.toml"
    config.write_text(
        f'url = "{url}"\ntoken = "{supervisor_token}"\nkey_store = "file"\n'
        f'key_file = "{key_file}"\nkey_passphrase = "bench passphrase"\n'
    )
    config.chmod(0o600)
    return config


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _settled_delta(record: Path, idle_rate: float) -> int:
    """Bytes written until the terminal goes quiet (no byte for QUIET s, at most 5 s),
    less what the idle repaints would have written meanwhile."""
    start = time.monotonic()
    before = last = _size(record)
    quiet_since = start
    while True:
        time.sleep(0.05)
        now, size = time.monotonic(), _size(record)
        if size != last:
            last, quiet_since = size, now
        elif now - quiet_since >= QUIET or now - start > 5:
            return max(0, round(size - before - idle_rate * (quiet_since - start)))


def _measure(tmux: Tmux, record: Path, keys: list[str], idle_rate: float) -> list[int]:
    out = []
    for key in keys:
        tmux.send_keys(key)
        out.append(_settled_delta(record, idle_rate))
    return out


def _idle_rate(record: Path, seconds: float) -> float:
    before = _size(record)
    time.sleep(seconds)
    return (_size(record) - before) / seconds


def run(term_env: dict[str, str], label: str, args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="hitl-bench-ssh-"))
    (tmp / "backend").mkdir()
    backend = start_live_backend(tmp / "backend")
    sshd = start_sshd(tmp / "sshd")
    tmux = Tmux(width=80, height=24)
    try:
        config = asyncio.run(
            _seed(backend.url, backend.agent_token, backend.supervisor_token, args.cases, tmp)
        )
        env = {
            "HITL_CONFIG": str(config),
            # The console's cache and outbox stay in the bench's directory.
            "XDG_CACHE_HOME": str(tmp / "cache"),
            "XDG_DATA_HOME": str(tmp / "data"),
            **{k: v for k, v in term_env.items() if k != "TERM"},
        }
        remote = (
            f"cd {shlex.quote(str(ROOT))} && env "
            + " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
            + f" {shlex.quote(sys.executable)} -m console console"
        )
        tmux.start(sshd.ssh_command(remote), env={"TERM": term_env.get("TERM", "xterm-256color")})
        tmux.wait_for("open case", timeout=120)
        time.sleep(2)
        record = tmp / "pane.bytes"
        tmux.record(record)
        time.sleep(0.5)
        idle = _idle_rate(record, 6.0)
        down = _measure(tmux, record, ["Down"] * args.presses, idle)
        up = _measure(tmux, record, ["Up"] * (args.presses // 2), idle)
        opened = _measure(tmux, record, ["Enter"], idle)
        back = _measure(tmux, record, ["Escape"], idle)

        def net(samples: list[int]) -> float:
            return statistics.median(samples)

        print(f"\n{label}  ({args.cases} open cases, 80x24, over ssh)")
        print(f"  idle (SLA countdown)     {idle:8.0f} bytes/s")
        print(f"  Down (next row)          {net(down):8.0f} bytes/keypress (median)")
        print(f"  Up (previous row)        {net(up):8.0f} bytes/keypress (median)")
        print(f"  Enter (open the case)    {net(opened):8.0f} bytes")
        print(f"  Escape (back to queue)   {net(back):8.0f} bytes")
        print(f"  full 80x24 screen, for scale: {80 * 24} cells")
    finally:
        tmux.kill()
        stop_sshd(sshd)
        stop_live_backend(backend)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--presses", type=int, default=40)
    args = parser.parse_args()
    for label, env in (
        ("TERM=xterm-256color", {"TERM": "xterm-256color"}),
        ("NO_COLOR=1", {"TERM": "xterm-256color", "NO_COLOR": "1"}),
    ):
        run(env, label, args)


if __name__ == "__main__":
    main()
