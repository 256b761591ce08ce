"""A 405 names in `Allow` every method its path takes.

Starlette answers 405 from the first route whose path matched, so `OPTIONS /v1/forms/demo` was
told `Allow: PUT` although the path takes GET and DELETE too (three routes share it).
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class AllowedMethods:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def answering(message: Message) -> None:
            refused = message["type"] == "http.response.start" and message["status"] == 405
            if refused and (methods := allowed_methods(scope)):
                MutableHeaders(scope=message)["Allow"] = ", ".join(methods)
            await send(message)

        return await self.app(scope, receive, answering)


METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def allowed_methods(scope: Scope) -> list[str]:
    """Every method some route takes at the request's path, sorted (asked of the routes
    themselves: FastAPI keeps included routers as routes of their own)."""
    routes = scope["app"].router.routes
    return [
        method
        for method in METHODS
        if any(route.matches({**scope, "method": method})[0] is Match.FULL for route in routes)
    ]
