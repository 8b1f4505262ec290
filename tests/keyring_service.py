"""A real, private Secret Service for tests: gnome-keyring on its own D-Bus session bus.

``start_secret_service(root)`` starts a ``dbus-daemon`` with a minimal session config (no
service activation, so nothing else is ever started behind the test's back) and an
unlocked ``gnome-keyring-daemon --components=secrets`` on it, both with HOME and the XDG
dirs under ``root``: the developer's real keyring is never touched. ``env()`` is what a
subprocess (or ``monkeypatch``) needs to use it; :mod:`keyring` then resolves to its
SecretService backend.

Fixtures (a test module declares ``pytest_plugins = ["tests.keyring_service"]``):

- ``secret_service``: one instance for the session.
- ``fresh_secret_service``: a throwaway instance for tests that lock or freeze it.
- ``use_secret_service``: point this process's :mod:`keyring` at ``secret_service``.
- ``use_fresh_secret_service``: the same with ``fresh_secret_service``.

``hitl_env`` and ``run_hitl`` run the real ``hitl`` command in such an environment.

Under ``CI=true`` a missing ``dbus-daemon`` or ``gnome-keyring-daemon`` fails the test;
elsewhere it skips with a pointer to ``make sysdeps``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = [
    "HITL",
    "SecretService",
    "fresh_secret_service",
    "hitl_env",
    "require_secret_service_binaries",
    "route_keyring",
    "run_hitl",
    "secret_service",
    "start_secret_service",
    "use_fresh_secret_service",
    "use_secret_service",
]

NEEDED = {"dbus-daemon": "dbus-daemon", "gnome-keyring-daemon": "gnome-keyring"}
KEYRING_PASSWORD = "hitl-test-keyring"
_SECRETS = "org.freedesktop.secrets"

_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def require_secret_service_binaries() -> None:
    """Fail under CI, skip elsewhere, when gnome-keyring or dbus-daemon is missing."""
    missing = sorted({pkg for cmd, pkg in NEEDED.items() if shutil.which(cmd) is None})
    if not missing:
        return
    message = (
        f"a real Secret Service needs the Debian packages {', '.join(missing)}: "
        "run `make sysdeps` (bash tests/sysdeps.sh) as root"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class SecretService:
    """One private session bus with an unlocked gnome-keyring on it."""

    root: Path
    bus_address: str
    bus: subprocess.Popen[bytes]
    daemon: subprocess.Popen[bytes]

    @property
    def home(self) -> Path:
        return self.root / "home"

    def env(self) -> dict[str, str]:
        """Variables that route a process's keyring to this Secret Service."""
        return {
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_DATA_HOME": str(self.home / ".local" / "share"),
            "XDG_CACHE_HOME": str(self.home / ".cache"),
            "XDG_RUNTIME_DIR": str(self.root / "run"),
            "DBUS_SESSION_BUS_ADDRESS": self.bus_address,
        }

    def lock(self) -> None:
        """Lock the default collection, as a screen lock or a timeout would."""
        import secretstorage
        from jeepney.io.blocking import open_dbus_connection

        with closing(open_dbus_connection(self.bus_address)) as conn:
            collection = secretstorage.get_default_collection(conn)
            collection.lock()
            assert collection.is_locked()

    def is_locked(self) -> bool:
        import secretstorage
        from jeepney.io.blocking import open_dbus_connection

        with closing(open_dbus_connection(self.bus_address)) as conn:
            return bool(secretstorage.get_default_collection(conn).is_locked())

    def freeze(self) -> None:
        """SIGSTOP the daemon: every Secret Service call now waits forever."""
        self.daemon.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.daemon.send_signal(signal.SIGCONT)

    def items(self) -> dict[str, str]:
        """What gnome-keyring itself holds for service "hitl": username -> secret."""
        import secretstorage
        from jeepney.io.blocking import open_dbus_connection

        with closing(open_dbus_connection(self.bus_address)) as conn:
            found = secretstorage.search_items(conn, {"service": "hitl"})
            return {i.get_attributes()["username"]: i.get_secret().decode() for i in found}

    def stop(self) -> None:
        for proc in (self.daemon, self.bus):
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()


def _name_has_owner(address: str, name: str) -> bool:
    from jeepney import DBusAddress, new_method_call
    from jeepney.io.blocking import open_dbus_connection

    bus = DBusAddress("/org/freedesktop/DBus", "org.freedesktop.DBus", "org.freedesktop.DBus")
    with closing(open_dbus_connection(address)) as conn:
        reply = conn.send_and_get_reply(
            new_method_call(bus, "NameHasOwner", "s", (name,)), timeout=2
        )
    return bool(reply.body[0])


def start_secret_service(root: Path, *, password: str = KEYRING_PASSWORD) -> SecretService:
    """Start dbus-daemon and an unlocked gnome-keyring under ``root``; wait until usable."""
    require_secret_service_binaries()
    home = root / "home"
    run = root / "run"
    for d in (home / ".config", home / ".local" / "share", home / ".cache", run):
        d.mkdir(parents=True, exist_ok=True)
    run.chmod(0o700)
    config = root / "bus.conf"
    config.write_text(_BUS_CONFIG.format(socket=root / "bus.sock"))
    env = {**os.environ, "HOME": str(home)}
    with (root / "dbus-daemon.log").open("wb") as log:
        bus = subprocess.Popen(
            [
                "dbus-daemon",
                f"--config-file={config}",
                "--nofork",
                "--nopidfile",
                "--print-address=1",
            ],
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            stderr=log,
            env=env,
        )
    assert bus.stdout is not None
    address = bus.stdout.readline().decode().strip()
    if not address:
        bus.kill()
        bus.wait()
        raise RuntimeError("dbus-daemon printed no address")
    daemon_env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_RUNTIME_DIR": str(run),
        "DBUS_SESSION_BUS_ADDRESS": address,
    }
    with (root / "gnome-keyring.log").open("wb") as log:
        daemon = subprocess.Popen(
            ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=log,
            env=daemon_env,
        )
    assert daemon.stdin is not None
    daemon.stdin.write(password.encode())
    daemon.stdin.close()
    service = SecretService(root=root, bus_address=address, bus=bus, daemon=daemon)
    deadline = time.monotonic() + 15
    while True:
        try:
            if _name_has_owner(address, _SECRETS) and not service.is_locked():
                return service
        except Exception:  # not up yet: no name, no default collection
            pass
        if daemon.poll() is not None or time.monotonic() > deadline:
            log = (root / "gnome-keyring.log").read_text(errors="replace")
            service.stop()
            raise RuntimeError(f"gnome-keyring did not come up unlocked:\n{log}")
        time.sleep(0.05)


@pytest.fixture(scope="session")
def secret_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecretService]:
    """A private unlocked Secret Service shared by the session's tests."""
    service = start_secret_service(tmp_path_factory.mktemp("secret-service"))
    yield service
    service.stop()


@pytest.fixture
def fresh_secret_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecretService]:
    """A Secret Service of its own, for a test that locks or freezes it."""
    service = start_secret_service(tmp_path_factory.mktemp("secret-service"))
    yield service
    service.stop()


def route_keyring(service: SecretService, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make this process's keyring resolve afresh against ``service``."""
    import keyring.core

    for key, value in service.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    monkeypatch.setattr(keyring.core, "_keyring_backend", None)


@pytest.fixture
def use_secret_service(
    secret_service: SecretService, monkeypatch: pytest.MonkeyPatch
) -> SecretService:
    """This process's keyring talks to the module's private Secret Service."""
    route_keyring(secret_service, monkeypatch)
    return secret_service


@pytest.fixture
def use_fresh_secret_service(
    fresh_secret_service: SecretService, monkeypatch: pytest.MonkeyPatch
) -> SecretService:
    """This process's keyring talks to a Secret Service of the test's own."""
    route_keyring(fresh_secret_service, monkeypatch)
    return fresh_secret_service


# -- running the real `hitl` CLI ---------------------------------------------------------

HITL = Path(sys.executable).parent / "hitl"


def hitl_env(home: Path, service: SecretService | None = None, **extra: str) -> dict[str, str]:
    """An environment for a `hitl` subprocess: private HOME and config, no inherited HITL_*
    settings, and the keyring routed to ``service`` (or to no D-Bus at all)."""
    drop = ("HITL_", "PYTHON_KEYRING_BACKEND", "DBUS_", "XDG_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    if service is not None:
        env.update(service.env())
    else:
        env.update({"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")})
    env["HITL_CONFIG"] = str(home / "hitl-config.toml")
    env.update(extra)
    return env


def run_hitl(
    *args: str, env: dict[str, str], stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run `hitl ARGS` as a user would; stdout and stderr come back merged as ``.stdout``."""
    return subprocess.run(
        [str(HITL), *args],
        env=env,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
