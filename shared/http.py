"""HTTP plumbing every service shares: request ids, one log line and metrics per request, the
request body size limit."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Sequence
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import metrics
from shared.errors import service_error_response
from shared.logs import bind, info_line
from shared.problems import Problem, TooLarge

log = logging.getLogger("handoff.http")

REQUEST_ID = "x-request-id"
REQUEST_ID_HEADER = REQUEST_ID.encode()
MAX_REQUEST_ID = 128


class RequestObserver:
    """Gives each request an id (the caller's `X-Request-ID` if it sent a sane one), binds it to
    the logs, answers with it, and records one log line and the latency by route template.

    Runs on every request, so it keeps to the cheap calls (measured in bench/): the header is
    looked up in the raw list, the id is 16 random bytes in hex (a uuid4's length, without
    building a UUID), and each label set's metric children are looked up once."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app, self.service = app, service
        self._children: dict[tuple[str, str, int], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        request_id = _request_id(scope["headers"])
        header = (b"x-request-id", request_id.encode())
        status = 500  # what the client gets if the app fails before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append(header)
            await send(message)

        with bind(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                self._observe(scope, status, time.perf_counter() - started)

    def _observe(self, scope: Scope, status: int, seconds: float) -> None:
        route = getattr(scope.get("route"), "path", None) or "unmatched"
        method = scope["method"]
        labels = (method, route, status)
        if (latency := self._children.get(labels)) is None:
            latency = self._children[labels] = metrics.HTTP_SECONDS.labels(
                self.service, method, route, str(status)
            )
        latency.observe(seconds)
        info_line(
            log,
            f"{method} {route} {status}",
            {
                "method": method,
                "route": route,
                "path": scope["path"],
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
            },
        )


def raw_header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    """A header's first value from the ASGI scope's raw list (`name` lower-case, as ASGI gives
    names): on every request this is cheaper than building Starlette's `Headers`."""
    return next((value for sent, value in headers if sent == name), None)


def _request_id(headers: Iterable[tuple[bytes, bytes]]) -> str:
    if (value := raw_header(headers, REQUEST_ID_HEADER)) is not None:
        sent = value.decode("latin-1")
        if len(sent) <= MAX_REQUEST_ID and sent.isprintable() and sent.isascii():
            return sent
    return os.urandom(16).hex()


class BodyTooLarge(TooLarge):
    def __init__(self, limit: int) -> None:
        super().__init__(
            f"the request body is larger than {limit} bytes",
            [Problem("body", f"must be at most {limit} bytes")],
        )


class BodySizeLimit:
    """413 for a request body over the limit, announced in Content-Length or counted as it
    streams in, so neither a chunked body nor a lying Content-Length gets past it. Paths under
    `small_paths` (e.g. public web forms, open to anyone) get the smaller `small_limit`."""

    def __init__(
        self,
        app: ASGIApp,
        limit: int,
        small_limit: int | None = None,
        small_paths: Sequence[str] = (),
    ) -> None:
        self.app, self.limit = app, limit
        self.small_limit, self.small_paths = small_limit or limit, tuple(small_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.small_limit if scope["path"].startswith(self.small_paths) else self.limit
        if _content_length(scope["headers"]) > limit:
            return await service_error_response(BodyTooLarge(limit))(scope, receive, send)
        received = 0

        async def counting() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(limit)  # the app's exception handling answers 413
            return message

        await self.app(scope, counting, send)


def _content_length(headers: Iterable[tuple[bytes, bytes]]) -> int:
    """The announced body length, 0 when there is none or it is not a number (the body is
    counted as it comes anyway). Read from the raw list: this runs on every request."""
    value = raw_header(headers, b"content-length")
    return int(value) if value is not None and value.isdigit() else 0
