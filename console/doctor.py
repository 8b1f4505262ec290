"""``hitl doctor``: is this console set up to decide cases?

One line per check, ``OK`` / ``WARN`` / ``FAIL``, each saying what to do when it is not OK:
the config file, the backend (``GET /healthz``), the keyring backend (a real OS keyring or
not), the token (present, and accepted by ``GET /v1/me``), the signing key (present,
and enrolled: its fingerprint is among those the backend pinned), and the offline outbox
(decisions waiting, in conflict, and the last sync). Exit 0 when nothing
FAILs, 1 otherwise; a WARN alone does not fail.
"""

from __future__ import annotations

import asyncio
import stat
import tomllib
from dataclasses import dataclass
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from rich.console import Console
from rich.markup import escape

from console.auth import check_enrolled, find_token
from console.client import HitlClient
from console.config import ConsoleSettings, config_path
from console.errors import AuthError, ConsoleError
from console.keystore import default_key_file, key_file_info, keyring_status, load_signing_key
from console.local_store import LocalStoreError, Outbox, default_outbox_path
from store.contracts import SupervisorMe
from store.signing import fingerprint, key_id

__all__ = ["Check", "diagnose", "run_doctor"]

Level = Literal["OK", "WARN", "FAIL"]
_STYLE: dict[Level, str] = {"OK": "bold green", "WARN": "bold yellow", "FAIL": "bold red"}


@dataclass(frozen=True)
class Check:
    level: Level
    subject: str
    detail: str


def run_doctor(settings: ConsoleSettings) -> int:
    """Print the checks; 0 when none FAILs, 1 otherwise."""
    console = Console(soft_wrap=True, highlight=False)
    checks = asyncio.run(diagnose(settings))
    for check in checks:
        style = _STYLE[check.level]
        console.print(f"[{style}]{check.level:<4}[/] {check.subject:<12} {escape(check.detail)}")
    failed = sum(c.level == "FAIL" for c in checks)
    warned = sum(c.level == "WARN" for c in checks)
    if failed:
        console.print(f"[bold red]{failed} problem(s)[/]: see the FAIL lines above.")
        return 1
    console.print("[bold green]All good.[/]" + (f" ({warned} warning(s) above.)" if warned else ""))
    return 0


async def diagnose(settings: ConsoleSettings) -> list[Check]:
    """Run every check, in order; none raises."""
    checks = [_config_check(settings)]
    timeout = settings.keyring_timeout

    async with HitlClient(settings.url) as anonymous:
        try:
            health = await anonymous.health()
            status = health.get("status", "ok")
            checks.append(Check("OK", "backend", f"{settings.url} answers /healthz ({status})"))
            reachable = True
        except ConsoleError as exc:
            checks.append(Check("FAIL", "backend", f"{settings.url}: {exc}"))
            reachable = False

    try:
        kr = await asyncio.to_thread(keyring_status, timeout=timeout)
        if kr.usable:
            checks.append(Check("OK", "keyring", f"{kr.backend} ({kr.reason})"))
        else:
            checks.append(
                Check(
                    "WARN",
                    "keyring",
                    f"{kr.backend} is not a real OS keyring: {kr.reason}. hitl stores "
                    "nothing there; use HITL_TOKEN and an encrypted key file "
                    f"(hitl enroll --key-file {default_key_file(settings.url)})",
                )
            )
    except ConsoleError as exc:
        checks.append(Check("FAIL", "keyring", str(exc)))

    me: SupervisorMe | None = None
    try:
        token, source = await asyncio.to_thread(find_token, settings)
    except ConsoleError as exc:
        checks.append(Check("FAIL", "token", f"cannot read the token: {exc}"))
    else:
        if not token:
            checks.append(
                Check(
                    "FAIL",
                    "token",
                    f"none for {settings.url}: run `hitl login --url {settings.url}` "
                    "(or set HITL_TOKEN)",
                )
            )
        elif not reachable:
            checks.append(
                Check("WARN", "token", f"present (from {source}); not checked: no backend")
            )
        else:
            try:
                async with HitlClient(settings.url, token) as client:
                    me = await client.me()
                checks.append(
                    Check(
                        "OK",
                        "token",
                        f"valid: {me.name} ({me.role}, groups {', '.join(me.groups) or '-'}), "
                        f"from {source}",
                    )
                )
            except AuthError as exc:
                checks.append(
                    Check(
                        "FAIL",
                        "token",
                        f"the backend rejects the token from {source} ({exc}): "
                        "run `hitl login` again",
                    )
                )
            except ConsoleError as exc:
                checks.append(Check("FAIL", "token", f"could not be checked: {exc}"))

    checks.append(await asyncio.to_thread(_key_check, settings, me))
    checks.append(await asyncio.to_thread(_outbox_check, settings))
    return checks


def _outbox_check(settings: ConsoleSettings) -> Check:
    path = default_outbox_path(settings.url)
    if not path.exists():
        return Check("OK", "outbox", f"{path} (absent: no decision was ever made offline)")
    try:
        outbox = Outbox(path)
    except LocalStoreError as exc:
        return Check("FAIL", "outbox", str(exc))
    try:
        counts, last = outbox.counts(), outbox.last_sync()
    finally:
        outbox.close()
    synced = f"last sync {last:%Y-%m-%d %H:%M:%S} UTC" if last else "never synced"
    size = f"{path}: {counts['pending']} waiting, {counts['sent']} sent"
    if counts["conflict"] or counts["rejected"]:
        return Check(
            "WARN",
            "outbox",
            f"{size}, {counts['conflict']} in conflict, {counts['rejected']} refused; "
            f"{synced}. Open the console to see what happened to each.",
        )
    if counts["pending"]:
        return Check(
            "WARN",
            "outbox",
            f"{size}; {synced}. They are sent when the console reaches the backend.",
        )
    return Check("OK", "outbox", f"{size}; {synced}")


def _config_check(settings: ConsoleSettings) -> Check:
    path = config_path()
    if not path.exists():
        return Check("OK", "config", f"{path} (absent: defaults and HITL_* variables apply)")
    try:
        st = path.stat()
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        return Check("FAIL", "config", f"{path}: {exc}")
    if "token" in data and st.st_mode & 0o077:
        mode = oct(stat.S_IMODE(st.st_mode))[2:].zfill(4)
        return Check(
            "WARN",
            "config",
            f"{path} holds a token and other users can read it (mode {mode}): "
            f"run `chmod 600 {path}`",
        )
    return Check("OK", "config", str(path))


def _key_check(settings: ConsoleSettings, me: SupervisorMe | None) -> Check:
    try:
        public, where = _find_public_key(settings)
    except ConsoleError as exc:
        return Check("FAIL", "signing key", str(exc))
    if public is None:
        return Check("FAIL", "signing key", where)
    fp = fingerprint(public)
    if me is None:
        return Check(
            "WARN",
            "signing key",
            f"{fp} in {where}; enrollment not checked (no valid token or backend)",
        )
    try:
        check_enrolled(public, me)
    except ConsoleError as exc:
        return Check("FAIL", "signing key", f"in {where}: {exc}")
    return Check("OK", "signing key", f"enrolled: {fp} (key {key_id(public)}) in {where}")


def _find_public_key(settings: ConsoleSettings) -> tuple[Ed25519PublicKey | None, str]:
    """The public half of the configured key (a key file's is read without its passphrase)."""
    if settings.key_store == "file":
        path = settings.key_file
        if path is None:
            return None, 'key_store is "file" but key_file is not set (HITL_KEY_FILE or config)'
        info = key_file_info(path)
        if info.is_demo and not settings.demo:
            return None, f"{path} is hitl's unencrypted DEMO key: only `hitl demo` may use it"
        if not info.encrypted and not info.is_demo:
            return None, f"{path} is not encrypted: hitl refuses it"
        label = "the DEMO key file" if info.is_demo else "the encrypted key file"
        return info.public_key, f"{label} {path}"
    key = load_signing_key(settings.url, timeout=settings.keyring_timeout)
    if key is None:
        if not keyring_status(timeout=settings.keyring_timeout).usable:
            return None, (
                "none: there is no OS keyring to keep it in; enroll one in an encrypted key "
                f"file: hitl enroll --key-file {default_key_file(settings.url)}"
            )
        return None, f"none in the OS keyring for {settings.url}: run `hitl enroll`"
    return key.public_key(), "the OS keyring"
