"""Typed async client for the hitl HTTP API.

One long-lived :class:`httpx.AsyncClient` with a base URL and timeouts always on.
Every method returns a :mod:`store.contracts` model; every failure is mapped once, here,
to a :mod:`console.errors` exception. Pass ``transport=httpx.ASGITransport(app)`` to drive
a backend in-process in tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, TypeVar

import httpx
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
    Severity,
    SupervisorMe,
)

__all__ = ["DEFAULT_TIMEOUT", "HitlClient"]

M = TypeVar("M", bound=BaseModel)
_GROUPS = TypeAdapter(list[GroupPublic])
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=3.0)


class HitlClient:
    """Supervisor- or agent-side access to one backend."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        headers = {"User-Agent": "hitl-console"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )

    async def __aenter__(self) -> HitlClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- plumbing ---------------------------------------------------------------------

    async def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._http.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise BackendUnreachable(f"{self.base_url} did not answer in time") from exc
        except httpx.RequestError as exc:
            raise BackendUnreachable(f"cannot reach {self.base_url}: {exc}") from exc
        if response.status_code >= 400:
            raise _problem(response)
        return response

    async def _get(self, url: str, model: type[M], **kwargs: Any) -> M:
        return _parse(await self._request("GET", url, **kwargs), model)

    async def _post(self, url: str, model: type[M], body: BaseModel | None = None) -> M:
        return await self._send("POST", url, model, body)

    async def _send(
        self, method: str, url: str, model: type[M], body: BaseModel | None = None
    ) -> M:
        content = body.model_dump_json().encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if body is not None else None
        return _parse(await self._request(method, url, content=content, headers=headers), model)

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
            return _GROUPS.validate_json(response.content)
        except ValidationError as exc:
            raise ApiError(
                response.status_code,
                "Unexpected response from the backend",
                f"the group list did not validate: {exc.error_count()} error(s); "
                "is the console the same version as the backend?",
            ) from exc

    async def queue(
        self,
        *,
        cursor: str | None = None,
        limit: int = 50,
        severity: Severity | None = None,
        domain: str | None = None,
        group: str | None = None,
        include_deferred: bool = False,
    ) -> QueuePage:
        params: dict[str, str | int] = {"limit": limit}
        for key, value in (
            ("cursor", cursor),
            ("severity", severity),
            ("domain", domain),
            ("group", group),
            ("include_deferred", "true" if include_deferred else None),
        ):
            if value:
                params[key] = value
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
        timeout = httpx.Timeout(wait + 10.0, connect=3.0)
        return await self._get("/v1/queue/changes", QueueChanges, params=params, timeout=timeout)

    async def case(self, case_id: int) -> CasePublic:
        return await self._get(f"/v1/cases/{case_id}", CasePublic)

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
        try:
            async with self._http.stream("GET", "/v1/audit/export", timeout=None) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise _problem(response)
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
        params = {"wait": wait} if wait else None
        timeout = httpx.Timeout(wait + 10.0, connect=3.0)
        return await self._get(
            f"/v1/escalations/{case_id}", EscalationStatus, params=params, timeout=timeout
        )


def _parse(response: httpx.Response, model: type[M]) -> M:
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        raise ApiError(
            response.status_code,
            "Unexpected response from the backend",
            f"{model.__name__} did not validate: {exc.error_count()} error(s); "
            "is the console the same version as the backend?",
        ) from exc


def _problem(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    title = str(body.get("title") or response.reason_phrase or "Error")
    detail = str(body.get("detail") or "")
    status = response.status_code
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
