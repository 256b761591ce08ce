"""Debian chromium for the browser tests: where it is, the flags this machine needs, and the
skip (or, in CI with HANDOFF_REQUIRE_BROWSER=1, the failure) when it is missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
