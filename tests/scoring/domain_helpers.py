"""Scoring's domain test helpers: the demo model and the instant the tests score at."""

from __future__ import annotations

from datetime import UTC, datetime

from handoff.demo_scoring import DEMO_MODEL
from services.scoring.domain.document import parse_model

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
MODEL = parse_model(DEMO_MODEL)
