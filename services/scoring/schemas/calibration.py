"""What scoring's API takes and answers about calibration and proposals."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RateOut(BaseModel):
    outcomes: int = Field(description="Outcomes behind the rate (unweighted).")
    rate: float = Field(description="Posterior mean, recency-weighted, Beta(1, 1) prior.")
    low: float = Field(description="95 % interval, low end.")
    high: float


class RuleCalibrationOut(BaseModel):
    rule: str
    points: int
    outcomes: int = Field(description="Judged leads that fired the rule.")
    acceptance: RateOut
    win: RateOut
    good_when_fired: RateOut
    good_otherwise: RateOut
    proposed_points: int | None = Field(description="Null: no change proposed (see note).")
    change: int | None
    note: str = Field(examples=["not enough evidence: 12 outcomes fired it and 80 did not; ..."])


class BandOut(BaseModel):
    band: str = Field(examples=["A", "60..69"])
    acceptance: RateOut
    win: RateOut


class CalibrationOut(BaseModel):
    version: str
    outcomes: int
    half_life_days: float
    minimum_outcomes: int
    points_per_logit: float = Field(
        description="The model's scale: (ceiling - floor) / ln 81 (floor to ceiling read as "
        "1-in-10 to 9-in-10 odds)."
    )
    rules: list[RuleCalibrationOut]
    grades: list[BandOut]
    score_bands: list[BandOut]


class ProposalIn(BaseModel):
    version: str | None = Field(
        None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$", description="The new draft's version."
    )
    rules: list[str] | None = Field(None, description="Only these rules; default every proposal.")
