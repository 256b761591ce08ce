"""Signing in to the pages: a session cookie, CSRF tokens, and rendering a page.

A person signs in once with their API key. The session cookie holds only the key's id and an
expiry, signed with the service's secret (HMAC-SHA256); each page checks that the key still
exists and is not revoked, so revoking a key ends its sessions. Both cookies are `HttpOnly`,
`SameSite=Strict`, and `Secure` over HTTPS.

CSRF: a second cookie holds a random nonce; every form carries `csrf_token`, the HMAC of that
nonce. Another site can make a browser post, but can neither read the cookie nor compute the
token, so a post without the right token is refused (403) before anything is done.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from shared.auth import Principal, Role
from shared.service import Runtime, RuntimeDep

SESSION_COOKIE = "handoff_session"
CSRF_COOKIE = "handoff_csrf"
CSRF_FIELD = "csrf_token"
SESSION_SECONDS = 8 * 3600  # a working day
TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parents[2] / "templates")


def _mac(secret: str, purpose: str, data: str) -> str:
    digest = hmac.new(secret.encode(), f"{purpose}|{data}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def session_value(secret: str, key_id: uuid.UUID, now: float | None = None) -> str:
    """The signed cookie value: the key's id and when the session ends."""
    body = json.dumps({"k": str(key_id), "e": int((now or time.time()) + SESSION_SECONDS)})
    data = base64.urlsafe_b64encode(body.encode()).rstrip(b"=").decode()
    return f"{data}.{_mac(secret, 'session', data)}"


def session_key_id(secret: str, value: str | None, now: float | None = None) -> uuid.UUID | None:
    """The key id a cookie value carries, if its signature holds and it has not expired."""
    data, _, signature = (value or "").partition(".")
    if not data or not hmac.compare_digest(signature, _mac(secret, "session", data)):
        return None
    try:
        body = json.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
        key_id, expires = uuid.UUID(body["k"]), float(body["e"])
    except (ValueError, KeyError, TypeError):
        return None
    return key_id if expires > (now or time.time()) else None


def csrf_token(secret: str, nonce: str) -> str:
    return _mac(secret, "csrf", nonce)


@dataclass
class Visit:
    """Who is looking (None before signing in) and the CSRF token their forms carry."""

    request: Request
    runtime: Runtime
    principal: Principal | None
    nonce: str
    fresh_nonce: bool

    @property
    def csrf(self) -> str:
        return csrf_token(self.runtime.settings.secret_key, self.nonce)

    def csrf_ok(self, form: Mapping[str, Any]) -> bool:
        given = form.get(CSRF_FIELD)
        return (
            not self.fresh_nonce
            and isinstance(given, str)
            and hmac.compare_digest(given.encode(), self.csrf.encode())
        )

    def may(self, *roles: Role) -> bool:
        return self.principal is not None and self.principal.role in {Role.admin, *roles}

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        response = TEMPLATES.TemplateResponse(
            self.request,
            template,
            {"visitor": self.principal, "csrf": self.csrf, **context},
            status_code=status,
        )
        self.keep(response)
        response.headers["Cache-Control"] = "no-store"
        return response

    def refuse(self, status: int, title: str, reason: str) -> HTMLResponse:
        return self.render("error.html", status, title=title, reason=reason)

    def csrf_refused(self) -> HTMLResponse:
        return self.refuse(
            403,
            "This form has expired",
            "Its security token is missing or wrong. Go back, reload the page and try again.",
        )

    def redirect(self, url: str) -> RedirectResponse:
        response = RedirectResponse(url, status_code=303)
        self.keep(response)
        return response

    def sign_in_first(self) -> RedirectResponse:
        here = self.request.url.path + (
            f"?{self.request.url.query}" if self.request.url.query else ""
        )
        return self.redirect(f"/signin?next={_quote(here)}")

    def keep(self, response: Response) -> None:
        if self.fresh_nonce:
            set_cookie(self.request, response, CSRF_COOKIE, self.nonce)

    def start_session(self, response: Response, principal: Principal) -> None:
        secret = self.runtime.settings.secret_key
        set_cookie(self.request, response, SESSION_COOKIE, session_value(secret, principal.key_id))
        # A new nonce at sign-in: a token seen before signing in is worth nothing after.
        self.nonce, self.fresh_nonce = secrets.token_urlsafe(24), True
        set_cookie(self.request, response, CSRF_COOKIE, self.nonce)


def _quote(path: str) -> str:
    return quote(path, safe="")


def set_cookie(request: Request, response: Response, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


def end_session(request: Request, response: Response) -> None:
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.delete_cookie(
            name, path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https"
        )


async def _principal(runtime: Runtime, key_id: uuid.UUID) -> Principal | None:
    keys = runtime.tables.api_keys
    async with runtime.sessions() as session:
        row = (
            await session.execute(
                select(keys).where(keys.c.id == key_id, keys.c.revoked_at.is_(None))
            )
        ).first()
    return Principal(row.id, row.name, Role(row.role), row.rep_id) if row else None


async def visit(request: Request, runtime: RuntimeDep) -> Visit:
    secret = runtime.settings.secret_key
    key_id = session_key_id(secret, request.cookies.get(SESSION_COOKIE))
    principal = await _principal(runtime, key_id) if key_id else None
    nonce = request.cookies.get(CSRF_COOKIE)
    fresh = not nonce or len(nonce) > 100
    return Visit(
        request, runtime, principal, secrets.token_urlsafe(24) if fresh else str(nonce), fresh
    )


VisitDep = Annotated[Visit, Depends(visit)]


async def form_fields(request: Request) -> dict[str, str]:
    """A posted form's text fields (a file is ignored: no page asks for one)."""
    async with request.form() as form:
        return {name: value for name, value in form.items() if isinstance(value, str)}


def safe_next(target: str | None) -> str:
    """Only a path on this site: never another origin (`//host`, `https://…`)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/dashboard"
    return target
