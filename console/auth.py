"""``hitl login``, ``hitl enroll``, ``hitl audit export`` and loading the supervisor's identity.

Where secrets go:

- The token: the OS keyring, after the backend accepted it. With no real OS keyring it is
  not stored at all; the supervisor passes it as ``HITL_TOKEN`` (or, at their own risk, as
  ``token`` in the config file).
- The signing key: the OS keyring, or (opt-in, for headless boxes) a passphrase-encrypted
  OpenSSH key file. ``hitl demo``'s unencrypted key file is accepted only in demo mode.

Every loaded key is checked against the fingerprints the backend pinned at enrollment.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from rich.console import Console
from rich.markup import escape

from console.client import HitlClient
from console.config import ConsoleSettings, config_path
from console.errors import AuthError, ConsoleError, KeyStoreError
from console.keystore import (
    MIN_PASSPHRASE,
    NoRealKeyring,
    default_key_file,
    delete_signing_key,
    key_file_info,
    keyring_status,
    load_signing_key,
    load_token,
    read_demo_key_file,
    read_key_file,
    save_signing_key,
    save_token,
    write_key_file,
)
from store.contracts import KeyPublic, SupervisorMe
from store.signing import fingerprint, key_id, public_key_b64

__all__ = [
    "check_enrolled",
    "export_audit",
    "find_token",
    "load_identity",
    "load_key_file",
    "require_token",
    "run_enroll",
    "run_login",
    "with_passphrase",
]

out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)


# -- helpers shared with doctor ------------------------------------------------------------


def find_token(settings: ConsoleSettings) -> tuple[str | None, str]:
    """The token and where it came from: HITL_TOKEN, the config file, or the OS keyring."""
    if settings.token:
        source = (
            "HITL_TOKEN" if os.environ.get("HITL_TOKEN") else f"the config file {config_path()}"
        )
        return settings.token, source
    token = load_token(settings.url, timeout=settings.keyring_timeout)
    return token, "the OS keyring"


def require_token(settings: ConsoleSettings) -> str:
    token, _ = find_token(settings)
    if not token:
        raise KeyStoreError(
            f"not logged in to {settings.url}: run `hitl login --url {settings.url}` "
            "(or set HITL_TOKEN)"
        )
    return token


def check_enrolled(public: Ed25519PublicKey, me: SupervisorMe) -> KeyPublic:
    """The enrollment the backend pinned for this key; raise if it has none."""
    kid = key_id(public)
    fp = fingerprint(public)
    for enrolled in me.keys:
        if enrolled.key_id == kid:
            if enrolled.fingerprint != fp or enrolled.public_key != public_key_b64(public):
                raise KeyStoreError(
                    f"the backend pinned fingerprint {enrolled.fingerprint} for key {kid}, "
                    f"but this key's fingerprint is {fp}: refusing to sign with it"
                )
            return enrolled
    others = ", ".join(k.fingerprint for k in me.keys)
    hint = (
        f" Keys enrolled for {me.name}: {others}; if you did not replace this key yourself, "
        "someone else may have."
        if others
        else ""
    )
    raise KeyStoreError(f"this key is not enrolled (fingerprint {fp}); run hitl enroll.{hint}")


def _ask_secret(prompt: str, *, confirm: bool = False) -> str:
    """Ask on the terminal without echo; without one, read a line from standard input."""
    if sys.stdin.isatty():
        value = getpass.getpass(prompt)
        if confirm and getpass.getpass("Again: ") != value:
            raise KeyStoreError("the two entries differ")
        return value
    line = sys.stdin.readline()
    if not line.strip():
        raise KeyStoreError(
            f"{prompt.rstrip(': ')}: needed, but there is no terminal to ask on and nothing "
            "on standard input"
        )
    return line.rstrip("\r\n")


def load_key_file(settings: ConsoleSettings, path: Path) -> Ed25519PrivateKey:
    """An encrypted key file (passphrase from settings or a prompt); the demo key in demo mode."""
    info = key_file_info(path)
    if not info.encrypted:
        if info.is_demo and settings.demo:
            return read_demo_key_file(path)
        if info.is_demo:
            raise KeyStoreError(
                f"{path} is hitl's unencrypted DEMO key: only `hitl demo` may use it"
            )
        raise KeyStoreError(
            f"refusing {path}: the key is not encrypted; hitl reads only passphrase-"
            "encrypted key files"
        )
    passphrase = settings.key_passphrase or _ask_secret(f"Passphrase for {path}: ")
    return read_key_file(path, passphrase)


def _no_keyring_for_token(url: str, reason: str, me: SupervisorMe) -> str:
    return (
        f"[bold yellow]The token is valid[/] ({escape(me.name)}, {escape(me.role)}) "
        f"[bold red]but it was NOT stored[/]: no OS keyring ({escape(reason)}).\n"
        "hitl never writes a token in plain text on its own. Either:\n"
        "  - set HITL_TOKEN in the console's environment (from your secret manager), or\n"
        f'  - put token = "…" in {escape(str(config_path()))} at your own risk '
        "(chmod 600 it; anyone who can read it can act as you)."
    )


def _no_keyring_for_key(url: str, reason: str) -> str:
    suggested = default_key_file(url)
    return (
        f"[bold red]No OS keyring[/]: {escape(reason)}.\n"
        "hitl keeps signing keys only in a real OS keyring, or, if you opt in, in a "
        "passphrase-encrypted key file (OpenSSH format, mode 0600 in a 0700 directory):\n"
        f"  hitl enroll --url {escape(url)} --key-file {escape(str(suggested))}"
    )


def _file_store_hint(path: Path) -> str:
    return (
        "Tell the console where the key is: in "
        f'{escape(str(config_path()))} set key_store = "file" and key_file = "{escape(str(path))}" '
        f"(or export HITL_KEY_STORE=file HITL_KEY_FILE={escape(str(path))})."
    )


# -- hitl login ------------------------------------------------------------------------


async def _whoami(url: str, token: str) -> SupervisorMe:
    async with HitlClient(url, token) as client:
        return await client.me()


def run_login(settings: ConsoleSettings, *, token: str | None) -> int:
    """Check the token with ``GET /v1/me`` and keep it in the OS keyring; 0 when stored."""
    url = settings.url
    try:
        if token is None:
            token = _ask_secret(f"Supervisor token for {url}: ")
        token = token.strip()
        if not token:
            err.print("[red]login failed:[/] the token is empty")
            return 1
        me = asyncio.run(_whoami(url, token))
    except AuthError as exc:
        err.print(
            f"[red]login failed:[/] the backend at {escape(url)} rejected this token "
            f"({escape(str(exc))}); check it, or ask an admin for a new one"
        )
        return 1
    except ConsoleError as exc:
        err.print(f"[red]login failed:[/] {escape(str(exc))}")
        return 1
    try:
        save_token(url, token, timeout=settings.keyring_timeout)
    except NoRealKeyring as exc:
        err.print(_no_keyring_for_token(url, exc.status.reason, me))
        return 1
    except KeyStoreError as exc:
        err.print(f"[red]login failed:[/] the token is valid but could not be stored: {exc}")
        return 1
    out.print(
        f"[green]Logged in[/] to {escape(url)} as {escape(me.name)} ({escape(me.role)}); "
        "the token is in the OS keyring."
    )
    if not me.keys:
        out.print("Next: `hitl enroll` creates your signing key and registers it.")
    return 0


# -- hitl enroll -----------------------------------------------------------------------


def run_enroll(settings: ConsoleSettings, *, key_file: Path | None) -> int:
    """Create (or reuse) the signing key, store it, register its public half; 0 when enrolled."""
    try:
        return asyncio.run(_enroll(settings, key_file))
    except ConsoleError as exc:
        err.print(f"[red]enroll failed:[/] {escape(str(exc))}")
        return 1


async def _enroll(settings: ConsoleSettings, key_file: Path | None) -> int:
    url = settings.url
    timeout = settings.keyring_timeout
    token = await asyncio.to_thread(require_token, settings)
    if key_file is None and settings.key_store == "file":
        key_file = settings.key_file
        if key_file is None:
            raise KeyStoreError('key_store is "file" but key_file is not set')
    async with HitlClient(url, token) as client:
        me = await client.me()
        enrolled_ids = {k.key_id for k in me.keys}
        created = False
        if key_file is not None:
            where = f"the encrypted key file {key_file}"
            if key_file.exists() or key_file.is_symlink():
                key = await asyncio.to_thread(load_key_file, settings, key_file)
                if me.keys and key_id(key.public_key()) not in enrolled_ids:
                    raise KeyStoreError(
                        f"{key_file} holds a key that is not enrolled "
                        f"(fingerprint {fingerprint(key.public_key())}), while "
                        f"{', '.join(k.fingerprint for k in me.keys)} is; if you did not "
                        "replace it yourself, someone else may have. To add a new key, "
                        "enroll with another --key-file path."
                    )
            else:
                passphrase = settings.key_passphrase
                if passphrase is None:
                    passphrase = await asyncio.to_thread(
                        _ask_secret,
                        f"New passphrase for {key_file} (at least {MIN_PASSPHRASE} characters): ",
                        confirm=True,
                    )
                key = Ed25519PrivateKey.generate()
                await asyncio.to_thread(write_key_file, key_file, key, passphrase)
                created = True
        else:
            status = await asyncio.to_thread(keyring_status, timeout=timeout)
            if not status.usable:
                err.print(_no_keyring_for_key(url, status.reason))
                return 1
            where = "the OS keyring"
            existing = await asyncio.to_thread(load_signing_key, url, timeout=timeout)
            if existing is not None:
                key = existing
            else:
                key = Ed25519PrivateKey.generate()
                await asyncio.to_thread(save_signing_key, url, key, timeout=timeout)
                created = True

        public = key.public_key()
        kid, fp = key_id(public), fingerprint(public)
        if kid in enrolled_ids:
            check_enrolled(public, me)
            out.print(
                f"[green]Already enrolled[/]: key {kid}, fingerprint {fp}, kept in {escape(where)}."
            )
            return 0
        try:
            pinned = await client.enroll_key(public_key_b64(public))
        except BaseException:
            if created:
                await asyncio.to_thread(_forget, settings, key_file)
            raise
        if pinned.key_id != kid or pinned.fingerprint != fp:
            raise KeyStoreError(
                f"the backend pinned {pinned.fingerprint} (key {pinned.key_id}) for a key "
                f"whose fingerprint is {fp}: do not use this backend until an admin checks it"
            )
    out.print(
        f"[green]Enrolled[/] signing key {kid} for {escape(me.name)}\n"
        f"  fingerprint {fp} (pinned by the backend; an admin can compare it)\n"
        f"  kept in {escape(where)}"
    )
    if key_file is not None and settings.key_file != key_file:
        out.print(_file_store_hint(key_file))
    return 0


def _forget(settings: ConsoleSettings, key_file: Path | None) -> None:
    """Undo storing a key that the backend then refused to enroll."""
    if key_file is not None:
        key_file.unlink(missing_ok=True)
    else:
        delete_signing_key(settings.url, timeout=settings.keyring_timeout)


# -- the console's identity ------------------------------------------------------------


def _load_key(settings: ConsoleSettings) -> Ed25519PrivateKey:
    if settings.key_store == "file":
        if settings.key_file is None:
            raise KeyStoreError(
                'key_store is "file" but key_file is not set (HITL_KEY_FILE or config)'
            )
        return load_key_file(settings, settings.key_file)
    key = load_signing_key(settings.url, timeout=settings.keyring_timeout)
    if key is None:
        status = keyring_status(timeout=settings.keyring_timeout)
        if not status.usable:
            raise KeyStoreError(
                f"no signing key: no OS keyring ({status.reason}); enroll one in an "
                f"encrypted key file with `hitl enroll --key-file "
                f"{default_key_file(settings.url)}`"
            )
        raise KeyStoreError(f"no signing key for {settings.url} in the OS keyring; run hitl enroll")
    return key


def with_passphrase(settings: ConsoleSettings) -> ConsoleSettings:
    """Ask for the key file's passphrase now, while the terminal is still ours."""
    if settings.key_store != "file" or settings.key_file is None or settings.key_passphrase:
        return settings
    try:
        info = key_file_info(settings.key_file)
    except KeyStoreError:
        return settings  # reading it will say what is wrong
    if not info.encrypted:
        return settings
    passphrase = _ask_secret(f"Passphrase for {settings.key_file}: ")
    return settings.model_copy(update={"key_passphrase": passphrase})


async def load_identity(
    settings: ConsoleSettings,
) -> tuple[HitlClient, SupervisorMe, Ed25519PrivateKey]:
    """The client (the caller closes it), who we are, and the enrolled signing key.

    Raises a :class:`~console.errors.ConsoleError` that says what to run when the token
    or key is missing, rejected, locked away or not enrolled.
    """
    token = await asyncio.to_thread(require_token, settings)
    client = HitlClient(settings.url, token)
    try:
        me = await client.me()
        key = await asyncio.to_thread(_load_key, settings)
        check_enrolled(key.public_key(), me)
    except BaseException:
        await client.aclose()
        raise
    return client, me, key


# -- hitl audit export -----------------------------------------------------------------


async def export_audit(settings: ConsoleSettings, out: Path) -> int:
    """Stream ``GET /v1/audit/export`` into ``out`` (written whole or not at all)."""
    from rich.progress import Progress, SpinnerColumn, TextColumn

    partial = out.with_name(f".{out.name}.partial")
    lines = 0
    try:
        token = await asyncio.to_thread(require_token, settings)
        async with HitlClient(settings.url, token) as client:
            with (
                partial.open("w", encoding="utf-8") as fh,
                Progress(
                    SpinnerColumn(),
                    TextColumn("exporting the audit log: {task.completed} lines"),
                    console=err,
                    transient=True,
                ) as progress,
            ):
                task = progress.add_task("export", total=None)
                stream = client.export_audit()
                try:
                    async for line in stream:
                        fh.write(line + "\n")
                        lines += 1
                        if lines % 200 == 0:
                            progress.update(task, completed=lines)
                finally:
                    aclose = getattr(stream, "aclose", None)
                    if aclose is not None:
                        await aclose()
        partial.replace(out)
    except (ConsoleError, OSError) as exc:
        partial.unlink(missing_ok=True)
        message = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        err.print(f"[red]export failed:[/] {escape(message)}")
        return 1
    err.print(
        f"[green]Exported[/] {lines} lines to {escape(str(out))}; check it with "
        f"`hitl audit verify {escape(str(out))}`."
    )
    return 0
