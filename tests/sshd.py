"""A throwaway OpenSSH server on a loopback port (Debian's openssh-server), key-only auth.

Supervisors triage from jump boxes over SSH, so the console's end-to-end tests log in
through a real ``sshd`` with the real ``ssh`` client (inside tmux, see ``tests/tmux.py``)
rather than trusting that a local pseudo-terminal behaves the same.

The server runs as the test's own user in the foreground (``sshd -D``) with its own host
key, config and ``authorized_keys`` in a temporary directory; only the key made here can
log in. Under ``CI=true`` a missing ``sshd`` fails the run (``tests/sysdeps.sh`` installs it
when root).
"""

from __future__ import annotations

import getpass
import os
import shlex
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["SSHD", "SshServer", "start_sshd", "stop_sshd"]

SSHD = "/usr/sbin/sshd"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SshServer:
    port: int
    directory: Path
    client_key: Path
    user: str
    process: subprocess.Popen[bytes]
    log: Path

    def ssh_argv(self, remote_command: str, *, send_env: tuple[str, ...] = ()) -> list[str]:
        """The ``ssh`` command line that runs ``remote_command`` on a pseudo-terminal."""
        argv = [
            "ssh",
            "-F",
            "/dev/null",
            "-tt",
            "-p",
            str(self.port),
            "-i",
            str(self.client_key),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            f"UserKnownHostsFile={self.directory / 'known_hosts'}",
            "-o",
            "LogLevel=ERROR",
        ]
        for name in send_env:
            argv += ["-o", f"SendEnv={name}"]
        return [*argv, f"{self.user}@127.0.0.1", remote_command]

    def ssh_command(self, remote_command: str, *, send_env: tuple[str, ...] = ()) -> str:
        """:meth:`ssh_argv` as one shell command line (for tmux)."""
        return shlex.join(self.ssh_argv(remote_command, send_env=send_env))


def _require_sshd() -> None:
    if os.access(SSHD, os.X_OK) and shutil.which("ssh") and shutil.which("ssh-keygen"):
        return
    message = "openssh-server/openssh-client are not installed (make sysdeps, as root)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "hitl-test", "-f", str(path)],
        check=True,
    )


def start_sshd(directory: Path) -> SshServer:
    _require_sshd()
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    host_key = directory / "host_ed25519"
    client_key = directory / "client_ed25519"
    _keygen(host_key)
    _keygen(client_key)
    authorized = directory / "authorized_keys"
    authorized.write_text(Path(f"{client_key}.pub").read_text())
    authorized.chmod(0o600)
    port = _free_port()
    host_pub = Path(f"{host_key}.pub").read_text().split()
    (directory / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
    config = directory / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {host_key}",
                f"PidFile {directory / 'sshd.pid'}",
                f"AuthorizedKeysFile {authorized}",
                "AuthenticationMethods publickey",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PermitRootLogin prohibit-password",
                "UsePAM no",
                "StrictModes no",
                "AcceptEnv LANG LC_* NO_COLOR COLORTERM HITL_*",
                "PrintMotd no",
                "PrintLastLog no",
                "LogLevel VERBOSE",
                "",
            ]
        )
    )
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation dir
    log = directory / "sshd.log"
    with log.open("wb") as fh:
        process = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(config)], stdout=fh, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 20
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"sshd did not start:\n{log.read_text()}") from None
            time.sleep(0.05)
    return SshServer(port, directory, client_key, getpass.getuser(), process, log)


def stop_sshd(server: SshServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
