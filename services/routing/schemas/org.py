"""The organisation document: teams, reps and rules imported together, by the API or a file."""

from __future__ import annotations

from pydantic import BaseModel

from services.routing.schemas.fields import Strict
from services.routing.schemas.reps import RepIn
from services.routing.schemas.teams import RuleIn, TeamIn


class OrgIn(Strict):
    """Teams and reps are added or updated by id; `rules`, when given, replace every rule, in
    this order (the first match wins)."""

    teams: list[TeamIn] = []
    reps: list[RepIn] = []
    rules: list[RuleIn] | None = None


class Imported(BaseModel):
    teams: int
    reps: int
    rules: int | None
