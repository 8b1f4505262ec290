"""The few errors the console shows. Widgets see these, never httpx's."""

from __future__ import annotations

from typing import Any

__all__ = [
    "ApiError",
    "AuthError",
    "BackendUnreachable",
    "Conflict",
    "ConsoleError",
    "InvalidRequest",
    "KeyStoreError",
    "NotFound",
]


class ConsoleError(Exception):
    """Base class: ``str(err)`` is a message fit to show a supervisor."""


class BackendUnreachable(ConsoleError):
    """No answer from the backend (refused, timed out, DNS...)."""


class KeyStoreError(ConsoleError):
    """A signing key or token could not be stored, found or unlocked."""


class ApiError(ConsoleError):
    """The backend answered with an RFC 9457 problem."""

    def __init__(self, status: int, title: str, detail: str = "", body: Any = None) -> None:
        self.status = status
        self.title = title
        self.detail = detail
        self.body = body if isinstance(body, dict) else {}
        super().__init__(f"{title}: {detail}" if detail else title)


class AuthError(ApiError):
    """401/403: the token is missing, wrong, or lacks the role."""


class NotFound(ApiError):
    """404."""


class Conflict(ApiError):
    """409: the case changed, was claimed or decided elsewhere. ``body`` says what."""


class InvalidRequest(ApiError):
    """400/422: the request was malformed; ``detail`` says what to fix."""
