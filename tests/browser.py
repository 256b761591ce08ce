"""Debian chromium for the browser tests: where it is, the flags this machine needs, and the
skip (or, in CI with HANDOFF_REQUIRE_BROWSER=1, the failure) when it is missing; an app served
on a real port for it, and screenshots at a desktop's and a phone's width."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.async_api import Browser, Page, async_playwright

from handoff.embedded import free_port
from tests.helpers import wait_for

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
if not CHROMIUM.exists() and os.environ.get("HANDOFF_REQUIRE_BROWSER") == "1":
    raise RuntimeError(
        f"{CHROMIUM} is missing and HANDOFF_REQUIRE_BROWSER=1: apt-get install -y chromium"
    )
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"Debian chromium is not installed ({CHROMIUM}); "
    "apt-get install -y chromium to run the browser tests",
)

PHONE = {"width": 390, "height": 844}


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """The app on a real port (its lifespan, consumers included, in uvicorn's thread)."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        await wait_for(lambda: server.started, timeout_s=30, message="uvicorn started")
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 15)


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS
        )
        try:
            yield browser
        finally:
            await browser.close()


async def snap(page: Page, folder: Path, name: str) -> None:
    """The page as a person sees it, then at a phone's width (nothing may overflow sideways)."""
    await page.screenshot(path=folder / f"{name}.png", full_page=True)
    size = page.viewport_size
    await page.set_viewport_size(PHONE)
    await page.screenshot(path=folder / f"{name}-phone.png", full_page=True)
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{name} overflows a phone's width by {overflow}px"
    if size:
        await page.set_viewport_size(size)
