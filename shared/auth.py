"""API keys with roles. A key is shown once at creation; services store only its HMAC."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import math
import secrets
import time
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
# A client address may try this many keys that turn out unknown per window; past that, a key
# not already cached is refused (429) without a query until the window ends.
UNKNOWN_KEYS_PER_CLIENT = 10
UNKNOWN_KEYS_WINDOW_S = 60.0
FOUND_KEYS_SECONDS = 24 * 3600.0  # a key found this recently is never refused for its address
IPV6_CLIENT_PREFIX = 64  # one IPv6 client usually holds a whole /64


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


class TooManyUnknownKeys(Exception):
    """The client tried too many unknown keys lately; it may try again in `retry_after` s."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"try again in {retry_after} s")
        self.retry_after = retry_after


class UnknownKeyBudget:
    """How many keys that turned out unknown each client address tried in its current window
    (a fixed window from its first failure), in memory, per instance. A lookup is reserved
    before its query and given back when the key is found, so concurrent requests cannot
    overrun the budget. Bounded: past `size` clients the oldest window is forgotten."""

    def __init__(self, per_client: int, window_s: float, *, size: int = CACHED_KEYS) -> None:
        self._per_client, self._window_s, self._size = per_client, window_s, size
        self._windows: dict[str, tuple[float, int]] = {}  # client: (window's end, lookups)

    def reserve(self, client: str) -> None:
        """Count a lookup for the client, or `TooManyUnknownKeys` when its budget is spent."""
        now = time.monotonic()
        ends, used = self._windows.pop(client, (0.0, 0))
        if ends <= now:
            ends, used = now + self._window_s, 0
        elif used >= self._per_client:
            self._windows[client] = (ends, used)
            raise TooManyUnknownKeys(max(1, math.ceil(ends - now)))
        if len(self._windows) >= self._size:
            del self._windows[next(iter(self._windows))]
        self._windows[client] = (ends, used + 1)

    def give_back(self, client: str) -> None:
        """The key was found: its lookup does not count."""
        if (window := self._windows.get(client)) is not None:
            self._windows[client] = (window[0], max(0, window[1] - 1))


class KeyRing:
    """Looks keys up in the service's table and keeps the known ones for `ttl_s`.

    Unknown keys are not kept: a key created a moment ago (by `handoff keys create`, in another
    process) works at once, and made-up keys cannot push the real ones out of the cache. What
    an unknown key costs is bounded per client instead: each address may have
    `unknown_per_client` lookups come back empty per `window_s`; past that, a key not in the
    cache is refused from that address without a query (`TooManyUnknownKeys`) until its window
    ends — so a key created meanwhile works at once from any other address and at most
    `window_s` later from one that flooded. Keys found in the last FOUND_KEYS_SECONDS (cached,
    or looked up again after their cache entry expired) are never refused, so a client sharing
    an address with a flood (a NAT, an office) keeps working with its key.
    """

    def __init__(
        self,
        tables: PlatformTables,
        secret: str,
        *,
        ttl_s: float = CACHE_SECONDS,
        max_keys: int = CACHED_KEYS,
        unknown_per_client: int = UNKNOWN_KEYS_PER_CLIENT,
        window_s: float = UNKNOWN_KEYS_WINDOW_S,
    ) -> None:
        self._tables = tables
        self._secret = secret
        self._known: TTLCache[str, Principal] = TTLCache(maxsize=max_keys, ttl=ttl_s)
        # Keys found lately, whose cache entry may have expired: looked up again (to see a
        # revocation) but never refused for their address's budget of unknown keys.
        self._found: TTLCache[str, bool] = TTLCache(maxsize=max_keys, ttl=FOUND_KEYS_SECONDS)
        self._unknown = UnknownKeyBudget(unknown_per_client, window_s)
        self._lookups: dict[str, asyncio.Future[Principal | None]] = {}  # in flight, by digest

    async def principal(
        self, sessions: async_sessionmaker[AsyncSession], key: str, address: str | None = None
    ) -> Principal | None:
        """The key's principal, None for an unknown or revoked key, or `TooManyUnknownKeys`
        when the caller's `address` (counted as `client_key` says) has tried too many unknown
        keys. Without an address, nothing is counted (one shared budget would let anyone spend
        everyone's). A cached key is answered without parsing the address.

        Requests with the same uncached key share one lookup: a client opening 32 connections
        with its new key makes one query and counts once, not 32 times."""
        digest = key_hash(self._secret, key)
        if (known := self._known.get(digest)) is not None:
            return known
        if (pending := self._lookups.get(digest)) is None:
            client = None  # a key that existed lately: its lookup is not counted
            if address is not None and digest not in self._found:
                client = client_key(address)
                self._unknown.reserve(client)
            pending = asyncio.ensure_future(self._look_up(sessions, digest, client))
            self._lookups[digest] = pending
        # Shielded: a request that goes away does not cancel the lookup others wait for.
        return await asyncio.shield(pending)

    async def _look_up(
        self, sessions: async_sessionmaker[AsyncSession], digest: str, client: str | None
    ) -> Principal | None:
        try:
            principal = await self._active_key(sessions, digest)
        except BaseException:  # no answer (an outage): nothing learnt
            if client is not None:
                self._unknown.give_back(client)
            raise
        finally:
            del self._lookups[digest]
        if principal is not None:
            if client is not None:
                self._unknown.give_back(client)
            self._known[digest] = principal
            self._found[digest] = True
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
        address = request.client.host if request.client else "unknown"
        try:
            principal: Principal | None = await runtime.keys.principal(
                runtime.sessions, key, address
            )
        except TooManyUnknownKeys as refused:
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                f"too many unknown API keys from this address; try again in "
                f"{refused.retry_after} s",
                headers={"Retry-After": str(refused.retry_after)},
            ) from None
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


def client_key(address: str) -> str:
    """The address a client is counted by: an IPv4 address as it is; for IPv6, its /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/{IPV6_CLIENT_PREFIX}", strict=False))
    return str(ip)
