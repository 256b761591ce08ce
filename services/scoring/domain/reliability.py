"""The reliability table: acceptance and win rates per grade and per score band, so a reader
sees whether a better grade or a higher score really does better with sales. Pure."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from services.scoring.domain.outcomes import Outcome, Pool
from services.scoring.domain.rates import Rate, pooled_rate


@dataclass(frozen=True)
class Band:
    key: str
    acceptance: Rate
    win: Rate


def score_band(outcome: Outcome, width: int = 10) -> str:
    low = math.floor(outcome.total / width) * width
    return f"{low}..{low + width - 1}"


def bands_by(groups: Sequence[Pool], key: Callable[[Outcome], str]) -> list[Band]:
    bands: dict[str, list[Pool]] = {}
    for g in groups:
        bands.setdefault(key(g.outcome), []).append(g)
    ordered = sorted(bands, key=lambda k: (_band_order(k), k))
    return [
        Band(
            k,
            pooled_rate((g.weight, g.outcome.accepted, g.n) for g in bands[k]),
            pooled_rate((g.weight, g.outcome.won, g.n) for g in bands[k]),
        )
        for k in ordered
    ]


def _band_order(key: str) -> float:
    head = key.split("..")[0]
    try:
        return float(head)
    except ValueError:
        return 0.0
