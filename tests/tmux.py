"""Drive a program in a real terminal as a person would: tmux on a private socket.

``send_keys`` types, ``screen`` reads what is displayed (``capture-pane``), ``wait_for``
polls until a text appears. ``record`` pipes every byte the program writes to the pane
into a file, to measure what a keypress costs over a slow link.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

__all__ = ["Tmux"]


class Tmux:
    def __init__(self, *, width: int = 80, height: int = 24) -> None:
        if shutil.which("tmux") is None:
            message = "tmux is not installed (make sysdeps, as root)"
            if os.environ.get("CI") == "true":
                pytest.fail(message)
            pytest.skip(message)
        self.socket = f"hitl-test-{uuid.uuid4().hex[:12]}"
        self.width, self.height = width, height
        self.session = "t"

    def _tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=check
        )

    def start(self, command: str, *, env: dict[str, str] | None = None) -> None:
        """Run ``command`` (a shell command line) in a new ``width`` x ``height`` window.

        ``env`` is added to the command's environment (e.g. ``TERM``, ``NO_COLOR``).
        The pane stays open after the command exits, so its last screen can be read.
        """
        env = dict(env or {})
        term = env.pop("TERM", None)
        if term is not None:  # tmux sets TERM itself for the pane; override it inside
            command = f"env TERM={_quote(term)} sh -c {_quote(command)}"
        environment = [a for k, v in env.items() for a in ("-e", f"{k}={v}")]
        self._tmux(
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            self.session,
            "-x",
            str(self.width),
            "-y",
            str(self.height),
            *environment,
            command,
        )
        self._tmux("set-option", "-t", self.session, "remain-on-exit", "on")
        self._tmux("set-option", "-t", self.session, "status", "off")

    def record(self, path: Path) -> None:
        """Append every byte the program writes to the terminal to ``path`` from now on."""
        self._tmux("pipe-pane", "-t", self.session, "-o", f"cat >> {_quote(str(path))}")

    def send_keys(self, *keys: str, literal: bool = False) -> None:
        """Type ``keys`` (tmux key names such as ``Enter``, ``Down``, ``Escape``, or text
        with ``literal=True``)."""
        args = ["send-keys", "-t", self.session]
        if literal:
            args.append("-l")
        self._tmux(*args, *keys)

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", self.session).stdout

    def wait_for(self, predicate: str | Callable[[str], bool], *, timeout: float = 30.0) -> str:
        """Poll the screen until it contains ``predicate`` (or it returns True)."""
        check = (lambda s: predicate in s) if isinstance(predicate, str) else predicate
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if check(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {predicate!r}; screen:\n{text}")
            time.sleep(0.1)

    def pane_dead(self) -> bool:
        out = self._tmux("display-message", "-p", "-t", self.session, "#{pane_dead}")
        return out.stdout.strip() == "1"

    def kill(self) -> None:
        self._tmux("kill-server", check=False)


def _quote(value: str) -> str:
    import shlex

    return shlex.quote(value)
