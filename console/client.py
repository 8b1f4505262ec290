"""Typed async client for the hitl HTTP API.

One long-lived :class:`httpx.AsyncClient` with a base URL and timeouts always on.
Every method returns a :mod:`store.contracts` model; every failure is mapped once, here,
to a :mod:`console.errors` exception. Pass ``transport=httpx.ASGITransport(app)`` to drive
a backend in-process in tests.

httpx, with httpcore and anyio under it, takes longer to import and set up than the rest
of the console's start-up; so it is imported when first needed (or in a thread by
:meth:`HitlClient.warm_up` once the queue is on screen), and :meth:`HitlClient.start`
fetches what the first screen shows over the standard library's ``http.client``.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlencode, urlsplit

from pydantic import BaseModel, TypeAdapter, ValidationError

from console.errors import (
    ApiError,
    AuthError,
    BackendUnreachable,
    Conflict,
    InvalidRequest,
    NotFound,
)
from store.contracts import (
    Availability,
    AvailabilityUpdate,
    CaseAuditEvent,
    CasePublic,
    ClaimPublic,
    DecisionPublic,
    Envelope,
    EscalationCreate,
    EscalationStatus,
    GroupPublic,
    InfoAnswer,
    KeyEnroll,
    KeyPublic,
    QueueChanges,
    QueuePage,
    RelatedCases,
    Severity,
    SupervisorMe,
)

if TYPE_CHECKING:
    import httpx

__all__ = ["CONNECT_TIMEOUT", "READ_TIMEOUT", "HitlClient"]

M = TypeVar("M", bound=BaseModel)
#: Seconds to connect, and to wait for an answer (always on).
CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 10.0


class HitlClient:
    """Supervisor- or agent-side access to one backend."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout | None = None,
    ) -> None:
        self._headers = {"User-Agent": "hitl-console"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self.base_url = base_url.rstrip("/")
        self._transport = transport
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None
        self._lock = threading.Lock()

    async def __aenter__(self) -> HitlClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    @property
    def _http(self) -> httpx.AsyncClient:
        """The httpx client, made on first use (in any thread: see :meth:`warm_up`)."""
        with self._lock:
            if self._client is None:
                import importlib.util
                import sys

                import httpx

                # httpcore tries `import sniffio` on every request; without it installed
                # each try searches sys.path again. A None entry makes it fail at once.
                if importlib.util.find_spec("sniffio") is None:
                    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]

                timeout = self._timeout or httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT)
                # Certificates only matter over https; loading the CA bundle takes a while.
                verify = urlsplit(self.base_url).scheme != "http"
                self._client = httpx.AsyncClient(
                    base_url=self.base_url,
                    headers=self._headers,
                    timeout=timeout,
                    transport=self._transport,
                    verify=verify,
                )
            return self._client

    def warm_up(self) -> None:
        """Import and set up the HTTP stack now (blocking: call it in a thread)."""
        self._http  # noqa: B018 - the property makes the client
        import anyio._backends._asyncio  # noqa: F401 - what httpcore loads on first request

    # -- plumbing ---------------------------------------------------------------------

    async def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        import httpx

        try:
            response = await self._http.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise BackendUnreachable(f"{self.base_url} did not answer in time") from exc
        except httpx.RequestError as exc:
            raise BackendUnreachable(f"cannot reach {self.base_url}: {exc}") from exc
        if response.status_code >= 400:
            raise _problem(response.status_code, response.reason_phrase, response.content)
        return response

    async def _get(self, url: str, model: type[M], **kwargs: Any) -> M:
        response = await self._request("GET", url, **kwargs)
        return _parse(response.status_code, response.content, model)

    async def _post(self, url: str, model: type[M], body: BaseModel | None = None) -> M:
        return await self._send("POST", url, model, body)

    async def _send(
        self, method: str, url: str, model: type[M], body: BaseModel | None = None
    ) -> M:
        content = body.model_dump_json().encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if body is not None else None
        response = await self._request(method, url, content=content, headers=headers)
        return _parse(response.status_code, response.content, model)

    # -- API --------------------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        data: dict[str, Any] = (await self._request("GET", "/healthz")).json()
        return data

    async def me(self) -> SupervisorMe:
        return await self._get("/v1/me", SupervisorMe)

    async def enroll_key(self, public_key_b64: str) -> KeyPublic:
        return await self._post("/v1/me/keys", KeyPublic, KeyEnroll(public_key=public_key_b64))

    async def set_availability(self, availability: Availability) -> SupervisorMe:
        """Go ``on_call`` or ``away``; new cases are routed and suggested to on-call members."""
        return await self._send(
            "PUT",
            "/v1/me/availability",
            SupervisorMe,
            AvailabilityUpdate(availability=availability),
        )

    async def groups(self) -> list[GroupPublic]:
        """Groups with their routing and who is on call (all for admins, else your own)."""
        response = await self._request("GET", "/v1/groups")
        try:
            return TypeAdapter(list[GroupPublic]).validate_json(response.content)
        except ValidationError as exc:
            raise ApiError(
                response.status_code,
                "Unexpected response from the backend",
                f"the group list did not validate: {exc.error_count()} error(s); "
                "is the console the same version as the backend?",
            ) from exc

    async def start(self, *, page_size: int = 50) -> tuple[SupervisorMe, QueuePage]:
        """Who we are and the first queue page, for the console's first screen.

        Fetched over ``http.client`` in a thread, so the first screen need not wait for
        httpx to load; with an injected transport or a proxy configured, through httpx.
        """
        import urllib.request

        if self._transport is not None or urllib.request.getproxies():
            me, page = await asyncio.gather(self.me(), self.queue(limit=page_size))
            return me, page
        query = urlencode({"limit": page_size})
        answers = await asyncio.to_thread(self._plain_get, ["/v1/me", f"/v1/queue?{query}"])
        for status, reason, body in answers:
            if status >= 400:
                raise _problem(status, reason, body)
        (me_status, _, me_body), (page_status, _, page_body) = answers
        return _parse(me_status, me_body, SupervisorMe), _parse(page_status, page_body, QueuePage)

    def _plain_get(self, paths: list[str]) -> list[tuple[int, str, bytes]]:
        """GET ``paths`` in turn on one keep-alive connection (blocking)."""
        import http.client

        url = urlsplit(self.base_url)
        connection: http.client.HTTPConnection
        if url.scheme == "https":
            connection = http.client.HTTPSConnection(
                url.hostname or "", url.port, timeout=READ_TIMEOUT, context=_ssl_context()
            )
        else:
            connection = http.client.HTTPConnection(
                url.hostname or "", url.port, timeout=READ_TIMEOUT
            )
        answers = []
        try:
            for path in paths:
                connection.request("GET", url.path + path, headers=self._headers)
                response = connection.getresponse()
                answers.append((response.status, response.reason, response.read()))
        except TimeoutError as exc:
            raise BackendUnreachable(f"{self.base_url} did not answer in time") from exc
        except (OSError, http.client.HTTPException) as exc:
            raise BackendUnreachable(f"cannot reach {self.base_url}: {exc}") from exc
        finally:
            connection.close()
        return answers

    async def queue(
        self,
        *,
        cursor: str | None = None,
        limit: int = 50,
        severity: Severity | None = None,
        domain: str | None = None,
        group: str | None = None,
        include_deferred: bool = False,
        claimed: bool | None = None,
        mine: bool = False,
        q: str | None = None,
        sort: str = "priority",
        ids: list[int] | None = None,
    ) -> QueuePage:
        """A queue page; with ``ids``, those cases only if still queued and matching."""
        params: list[tuple[str, str | int]] = [("limit", limit)]
        for key, value in (
            ("cursor", cursor),
            ("severity", severity),
            ("domain", domain),
            ("group", group),
            ("include_deferred", "true" if include_deferred else None),
            ("claimed", None if claimed is None else str(claimed).lower()),
            ("mine", "true" if mine else None),
            ("q", q),
            ("sort", sort if sort != "priority" else None),
        ):
            if value:
                params.append((key, value))
        params += [("ids", case_id) for case_id in ids or ()]
        return await self._get("/v1/queue", QueuePage, params=params)

    async def queue_changes(
        self, *, after: int | None = None, wait: float = 0, limit: int = 200
    ) -> QueueChanges:
        """Changes to cases in your groups after the cursor ``after`` (long-polls ``wait`` s).

        Without ``after`` it returns the current cursor and no changes: load the queue
        page, then follow from that cursor.
        """
        params: dict[str, str | int | float] = {"limit": limit}
        if after is not None:
            params["after"] = after
        if wait:
            params["wait"] = wait
        import httpx

        timeout = httpx.Timeout(wait + READ_TIMEOUT, connect=CONNECT_TIMEOUT)
        return await self._get("/v1/queue/changes", QueueChanges, params=params, timeout=timeout)

    async def case(self, case_id: int) -> CasePublic:
        return await self._get(f"/v1/cases/{case_id}", CasePublic)

    async def case_audit(self, case_id: int) -> list[CaseAuditEvent]:
        """The case's audit trail, oldest first (its history)."""
        response = await self._request("GET", f"/v1/cases/{case_id}/audit")
        try:
            return TypeAdapter(list[CaseAuditEvent]).validate_json(response.content)
        except ValidationError as exc:
            raise ApiError(
                response.status_code,
                "Unexpected response from the backend",
                f"the case history did not validate: {exc.error_count()} error(s); "
                "is the console the same version as the backend?",
            ) from exc

    async def related(self, case_id: int, *, limit: int = 5) -> RelatedCases:
        """Cases of your groups sharing the agent, the trace or a redacted value."""
        return await self._get(
            f"/v1/cases/{case_id}/related", RelatedCases, params={"limit": limit}
        )

    async def claim(self, case_id: int) -> ClaimPublic:
        return await self._post(f"/v1/cases/{case_id}/claim", ClaimPublic)

    async def release_claim(self, case_id: int) -> None:
        await self._request("DELETE", f"/v1/cases/{case_id}/claim")

    async def decide(self, case_id: int, envelope: Envelope) -> DecisionPublic:
        return await self._post(f"/v1/cases/{case_id}/decisions", DecisionPublic, envelope)

    async def audit_key(self) -> dict[str, str]:
        """The backend's checkpoint key (``keyid``, ``public_key``, ``fingerprint``), to pin."""
        data: dict[str, str] = (await self._request("GET", "/v1/audit/key")).json()
        return data

    async def export_audit(self) -> AsyncIterator[str]:
        """Yield the audit export line by line (JSONL)."""
        import httpx

        try:
            async with self._http.stream("GET", "/v1/audit/export", timeout=None) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise _problem(response.status_code, response.reason_phrase, response.content)
                async for line in response.aiter_lines():
                    if line:
                        yield line
        except httpx.RequestError as exc:
            raise BackendUnreachable(f"cannot reach {self.base_url}: {exc}") from exc

    # -- agent side -------------------------------------------------------------------

    async def submit_escalation(self, escalation: EscalationCreate) -> EscalationStatus:
        return await self._post("/v1/escalations", EscalationStatus, escalation)

    async def answer_info(self, case_id: int, answer: InfoAnswer) -> EscalationStatus:
        """Answer the supervisor's question on an ``info_requested`` escalation."""
        return await self._post(f"/v1/escalations/{case_id}/info", EscalationStatus, answer)

    async def escalation(self, case_id: int, *, wait: float = 0) -> EscalationStatus:
        import httpx

        params = {"wait": wait} if wait else None
        timeout = httpx.Timeout(wait + READ_TIMEOUT, connect=CONNECT_TIMEOUT)
        return await self._get(
            f"/v1/escalations/{case_id}", EscalationStatus, params=params, timeout=timeout
        )


def _ssl_context() -> Any:
    """Certificates as httpx checks them: $SSL_CERT_FILE, $SSL_CERT_DIR or certifi's."""
    import os
    import ssl

    if os.environ.get("SSL_CERT_FILE"):
        return ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    if os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def _parse(status: int, content: bytes, model: type[M]) -> M:
    try:
        return model.model_validate_json(content)
    except ValidationError as exc:
        raise ApiError(
            status,
            "Unexpected response from the backend",
            f"{model.__name__} did not validate: {exc.error_count()} error(s); "
            "is the console the same version as the backend?",
        ) from exc


def _problem(status: int, reason: str, content: bytes) -> ApiError:
    try:
        body = json.loads(content)
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    title = str(body.get("title") or reason or "Error")
    detail = str(body.get("detail") or "")
    cls: type[ApiError]
    if status in (401, 403):
        cls = AuthError
    elif status == 404:
        cls = NotFound
    elif status == 409:
        cls = Conflict
    elif status in (400, 422):
        cls = InvalidRequest
    else:
        cls = ApiError
    return cls(status, title, detail, body)
