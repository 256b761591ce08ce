"""Signing in to the pages: a session cookie, CSRF tokens, and rendering a page.

A person signs in once with their API key. The session cookie holds the key's id and the key,
encrypted and authenticated with a key derived from the service's secret (Fernet: AES-CBC +
HMAC, with its time); the pages act on scoring and routing with the person's own key. Each page
checks that the key still exists and is not revoked, so revoking a key ends its sessions. Both
cookies are `HttpOnly`, `SameSite=Strict`, and `Secure` over HTTPS.

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

from cryptography.fernet import Fernet, InvalidToken
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


def _fernet(secret: str) -> Fernet:
    key = hashlib.sha256(f"handoff pages session|{secret}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


@dataclass(frozen=True)
class Session:
    key_id: uuid.UUID
    key: str  # the person's own API key: the pages call scoring and routing with it


def session_value(secret: str, key_id: uuid.UUID, key: str, now: float | None = None) -> str:
    """The cookie value: the key's id and the key, encrypted and authenticated (Fernet)."""
    body = json.dumps({"k": str(key_id), "key": key}).encode()
    return _fernet(secret).encrypt_at_time(body, int(now or time.time())).decode()


def read_session(secret: str, value: str | None, now: float | None = None) -> Session | None:
    """The session a cookie value carries, if it is ours, untouched and under a day old."""
    if not value:
        return None
    try:
        body = json.loads(
            _fernet(secret).decrypt_at_time(
                value.encode(), SESSION_SECONDS, int(now or time.time())
            )
        )
        return Session(uuid.UUID(body["k"]), str(body["key"]))
    except (InvalidToken, ValueError, KeyError, TypeError):
        return None


def csrf_token(secret: str, nonce: str) -> str:
    return _mac(secret, "csrf", nonce)


@dataclass
class Visit:
    """Who is looking (None before signing in) and the CSRF token their forms carry."""

    request: Request
    runtime: Runtime
    principal: Principal | None
    key: str | None  # the signed-in person's API key
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

    def start_session(self, response: Response, principal: Principal, key: str) -> None:
        secret = self.runtime.settings.secret_key
        value = session_value(secret, principal.key_id, key)
        set_cookie(self.request, response, SESSION_COOKIE, value)
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
    session = read_session(secret, request.cookies.get(SESSION_COOKIE))
    principal = await _principal(runtime, session.key_id) if session else None
    nonce = request.cookies.get(CSRF_COOKIE)
    fresh = not nonce or len(nonce) > 100
    return Visit(
        request,
        runtime,
        principal,
        session.key if session and principal else None,
        secrets.token_urlsafe(24) if fresh else str(nonce),
        fresh,
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
