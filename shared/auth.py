"""API keys with roles. A key is shown once at creation; services store only its HMAC."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from enum import StrEnum

from cachetools import TTLCache
from fastapi import HTTPException, Request, status
from fastapi.security import HTTPBearer
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from shared.db import PlatformTables

KEY_PREFIX = "hk_"
CACHE_SECONDS = 30.0  # a revoked key stops working within this long on every instance
CACHED_KEYS = 10_000


class Role(StrEnum):
    admin = "admin"
    marketing = "marketing"
    sales = "sales"
    crm = "crm"


@dataclass(frozen=True)
class Principal:
    key_id: uuid.UUID
    name: str
    role: Role
    rep_id: str | None


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(24)


def key_hash(secret: str, key: str) -> str:
    return hmac.new(secret.encode(), key.encode(), hashlib.sha256).hexdigest()


async def store_key(
    session: AsyncSession | AsyncConnection,
    tables: PlatformTables,
    *,
    secret: str,
    key: str,
    key_id: uuid.UUID,
    name: str,
    role: Role,
    rep_id: str | None,
) -> None:
    if role is Role.sales and not rep_id:
        raise ValueError("a sales key must be bound to a rep (rep_id)")
    await session.execute(
        insert(tables.api_keys).values(
            id=key_id, name=name, role=role.value, rep_id=rep_id, key_hash=key_hash(secret, key)
        )
    )


async def revoke_key(
    session: AsyncSession | AsyncConnection, tables: PlatformTables, key_id: uuid.UUID
) -> bool:
    revoked = await session.scalar(
        update(tables.api_keys)
        .where(tables.api_keys.c.id == key_id, tables.api_keys.c.revoked_at.is_(None))
        .values(revoked_at=func.now())
        .returning(tables.api_keys.c.id)
    )
    return revoked is not None


class KeyRing:
    """Looks keys up in the service's table and keeps the known ones for `ttl_s`.

    Unknown keys are not kept: a key created a moment ago works at once, and made-up keys cannot
    push the real ones out of the cache (each costs a query instead).
    """

    def __init__(
        self,
        tables: PlatformTables,
        secret: str,
        *,
        ttl_s: float = CACHE_SECONDS,
        max_keys: int = CACHED_KEYS,
    ) -> None:
        self._tables = tables
        self._secret = secret
        self._known: TTLCache[str, Principal] = TTLCache(maxsize=max_keys, ttl=ttl_s)

    async def principal(
        self, sessions: async_sessionmaker[AsyncSession], key: str
    ) -> Principal | None:
        digest = key_hash(self._secret, key)
        if (known := self._known.get(digest)) is not None:
            return known
        principal = await self._active_key(sessions, digest)
        if principal is not None:
            self._known[digest] = principal
        return principal

    async def _active_key(
        self, sessions: async_sessionmaker[AsyncSession], digest: str
    ) -> Principal | None:
        keys = self._tables.api_keys
        async with sessions() as session:
            row = (
                await session.execute(
                    select(keys).where(keys.c.key_hash == digest, keys.c.revoked_at.is_(None))
                )
            ).first()
        return Principal(row.id, row.name, Role(row.role), row.rep_id) if row else None


class RoleRequired(HTTPBearer):
    """A dependency admitting callers whose key has one of `roles` (admin always passes).

    One object both documents the scheme in OpenAPI and does the whole check, so a keyed route
    costs one dependency. The key comes as `Authorization: Bearer <key>` or `X-API-Key: <key>`.
    """

    def __init__(self, *roles: Role) -> None:
        super().__init__(
            scheme_name="API key",
            auto_error=False,
            description="Authorization: Bearer <API key> (or X-API-Key: <API key>)",
        )
        self.allowed = {Role.admin, *roles}

    # A dependency, not a credentials parser: it answers with the caller, hence the override.
    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        headers = request.headers
        key = _bearer_token(headers.get("Authorization")) or headers.get("X-API-Key")
        if not key:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "an API key is required",
                headers={"WWW-Authenticate": "Bearer"},
            )
        runtime = request.app.state.runtime
        principal: Principal | None = await runtime.keys.principal(runtime.sessions, key)
        if principal is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "the API key is unknown or revoked",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if principal.role not in self.allowed:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"a {principal.role.value} key may not do this; "
                f"needs {' or '.join(sorted(r.value for r in self.allowed))}",
            )
        return principal


def _bearer_token(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
