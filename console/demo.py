"""``hitl demo``: a throwaway backend with sample escalations, then the console on it.

Everything lives in a temporary directory that is removed afterwards: the SQLite file, the
backend's checkpoint key, the config file and an unencrypted Ed25519 key marked as the demo
key. The user's config and keyring are never read or written (``HITL_CONFIG`` points into
the temporary directory and the keyring is disabled for the backend and the console).
The backend runs as ``python -m backend`` in a child process, stopped when the console quits
or on Ctrl-C. It gets the example policies for the demo domains (``policy push --examples``)
before the samples are submitted, so cases carry real rule names and reasons; the few
samples those policies settle at once (proceed, needs_info) are not queued.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console

from console.app import run_console
from console.client import HitlClient
from console.config import ConsoleSettings
from console.errors import ConsoleError
from console.keystore import write_demo_key_file
from store.samples import DOMAINS, sample_escalations
from store.signing import public_key_b64

__all__ = ["DemoError", "run_demo"]

#: The backend's exit is noticed at once; this only bounds a backend that hangs. On a busy
#: 2-core box its imports alone took over 30 s, so a shorter bound failed healthy demos.
STARTUP_TIMEOUT = 120.0
#: The keyring backend that refuses everything: the demo never touches the user's keyring.
NO_KEYRING = "keyring.backends.fail.Keyring"

err = Console(stderr=True, highlight=False)


class DemoError(Exception):
    """The demo backend could not be set up; the message says what failed."""


@dataclass
class DemoBackend:
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    agent_token: str
    supervisor_token: str


def _say(text: str) -> None:
    err.print(text, end="")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _backend_cmd(*args: str, env: dict[str, str]) -> str:
    """Run ``python -m backend ARGS`` to completion and return its stdout."""
    done = subprocess.run(
        [sys.executable, "-m", "backend", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    if done.returncode != 0:
        raise DemoError(f"`backend {args[0]} {args[1]}` failed:\n{done.stderr.strip()}")
    return done.stdout


def _created(stdout: str) -> dict[str, object]:
    data: dict[str, object] = json.loads(stdout.strip().splitlines()[-1])
    return data


def _start_backend(tmp: Path, env: dict[str, str]) -> DemoBackend:
    db_url = f"sqlite:///{tmp / 'demo.db'}"
    _backend_cmd("db", "upgrade", "--database-url", db_url, env=env)
    domains = [a for d in DOMAINS for a in ("--domain", d)]
    groups = [a for d in DOMAINS for a in ("--group", d)]
    agent = _created(
        _backend_cmd(
            "admin",
            "create-agent",
            "demo-agent",
            *domains,
            "--database-url",
            db_url,
            "--json",
            env=env,
        )
    )
    supervisor = _created(
        _backend_cmd(
            "admin",
            "create-supervisor",
            "demo-supervisor",
            *groups,
            "--role",
            "supervisor",
            "--database-url",
            db_url,
            "--json",
            env=env,
        )
    )
    # The example policies for the demo domains, so cases carry real rule names and reasons.
    _backend_cmd(
        "policy", "push", "--examples", "--author", "demo", "--database-url", db_url, env=env
    )
    port = _free_port()
    log = tmp / "backend.log"
    with log.open("wb") as fh:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "backend",
                "serve",
                "--database-url",
                db_url,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--server-key",
                str(tmp / "server-key.pem"),
                "--log-level",
                "warning",
            ],
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    backend = DemoBackend(
        url=f"http://127.0.0.1:{port}",
        process=process,
        log=log,
        agent_token=str(agent["token"]),
        supervisor_token=str(supervisor["token"]),
    )
    _wait_healthy(backend)
    return backend


def _wait_healthy(backend: DemoBackend) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        with suppress(httpx.HTTPError):
            if httpx.get(f"{backend.url}/healthz", timeout=1.0).status_code == 200:
                return
        if backend.process.poll() is not None:
            raise DemoError(f"the backend exited ({backend.process.returncode}):\n{_tail(backend)}")
        if time.monotonic() > deadline:
            raise DemoError(f"the backend did not answer /healthz in {STARTUP_TIMEOUT:.0f} s")
        time.sleep(0.1)


def _tail(backend: DemoBackend, lines: int = 20) -> str:
    try:
        return "\n".join(backend.log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no backend log)"


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def _seed(backend: DemoBackend, cases: int, key: Ed25519PrivateKey) -> None:
    """Submit the sample escalations as the agent, then enroll the demo key."""
    async with HitlClient(backend.url, backend.agent_token) as agent:
        for escalation in sample_escalations(cases):  # in order: ids follow the samples
            await agent.submit_escalation(escalation)
    async with HitlClient(backend.url, backend.supervisor_token) as supervisor:
        await supervisor.enroll_key(public_key_b64(key.public_key()))


def _write_config(path: Path, settings: ConsoleSettings) -> None:
    lines = [
        "# Written by `hitl demo` for its throwaway backend; removed when the demo ends.",
        f"url = {json.dumps(settings.url)}",
        f"token = {json.dumps(settings.token)}",
        'key_store = "file"',
        f"key_file = {json.dumps(str(settings.key_file))}",
        "demo = true",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)


@contextmanager
def _environment(**values: str) -> Iterator[dict[str, str]]:
    """Set environment variables for this process (and return them for children)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield dict(os.environ)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_demo(cases: int = 40) -> int:
    """Start the demo backend, seed ``cases`` escalations, run the console; 0 on a clean quit."""
    with tempfile.TemporaryDirectory(prefix="hitl-demo-") as name:
        tmp = Path(name)
        config = tmp / "config.toml"
        backend: DemoBackend | None = None
        with _environment(HITL_CONFIG=str(config), PYTHON_KEYRING_BACKEND=NO_KEYRING) as env:
            try:
                _say("hitl demo: starting backend… ")
                backend = _start_backend(tmp, env)
                _say(f"seeding {cases} escalations… ")
                key = Ed25519PrivateKey.generate()
                key_file = tmp / "demo-ed25519.key"
                write_demo_key_file(key_file, key)
                asyncio.run(_seed(backend, cases, key))
                settings = ConsoleSettings(
                    url=backend.url,
                    token=backend.supervisor_token,
                    key_store="file",
                    key_file=key_file,
                    demo=True,
                )
                _write_config(config, settings)
                err.print("opening the console.")
                return run_console(settings)
            except (DemoError, ConsoleError, OSError, subprocess.SubprocessError) as exc:
                err.print()
                err.print("hitl demo failed:", str(exc), style="bold red", markup=False)
                return 1
            except KeyboardInterrupt:
                err.print("\nhitl demo: interrupted")
                return 130
            finally:
                if backend is not None:
                    _stop(backend.process)
