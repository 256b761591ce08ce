"""What a verdict must carry: a reason where one is needed, a deal value with its currency
only when won, and the rep's note as clean text. (Which verdicts a lead's stage allows is
`domain.stages`; who may give one, `domain.judge`.)"""

from __future__ import annotations

from decimal import Decimal

import pycountry

from shared.events import ReasonCode, Verdict
from shared.events.feedback import NEEDS_REASON
from shared.problems import Problem
from shared.text import clean_text


def content_problems(
    verdict: Verdict,
    reason_code: ReasonCode | None,
    deal_value: Decimal | None,
    currency: str | None,
) -> list[Problem]:
    """What the verdict's fields lack or carry wrongly, every one at once."""
    problems = []
    if verdict in NEEDS_REASON and reason_code is None:
        codes = ", ".join(code.value for code in ReasonCode)
        problems.append(Problem("reason_code", f"required for {verdict.value}; one of {codes}"))
    if verdict is Verdict.won:
        if deal_value is not None and currency is None:
            problems.append(Problem("currency", "required with deal_value"))
        if currency is not None and deal_value is None:
            problems.append(Problem("deal_value", "required with currency"))
    else:
        for field, value in (("deal_value", deal_value), ("currency", currency)):
            if value is not None:
                problems.append(Problem(field, f"only for a won verdict, not {verdict.value}"))
    return problems


NOTE_LIMIT = 2000


def clean_note(text: str) -> str | None:
    """The rep's words as capture keeps text: NFC, whitespace collapsed, bounded; blank is none."""
    return clean_text(text, limit=NOTE_LIMIT) or None


def clean_currency(code: str) -> str:
    """An ISO 4217 code, upper-cased."""
    code = code.strip().upper()
    if pycountry.currencies.get(alpha_3=code) is None:
        raise ValueError("is not an ISO 4217 currency code")
    return code
