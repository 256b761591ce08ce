"""Signing in to the pages from a test: the CSRF token a page carries, the sign-in form sent."""

from __future__ import annotations

import re

import httpx

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def token_of(page: httpx.Response | str) -> str:
    text = page if isinstance(page, str) else page.text
    found = CSRF.search(text)
    assert found, text
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, key: str, next: str = "/dashboard") -> httpx.Response:
    form = await client.get("/signin", params={"next": next})
    return await client.post(
        "/signin", data={"api_key": key, "next": next, "csrf_token": token_of(form)}
    )
