"""`handoff reps import FILE` against the real database."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from handoff.cli import app
from tests.routing.conftest import Routing

pytestmark = pytest.mark.asyncio

GOOD = """\
teams:
  - {id: emea, name: EMEA, fallback: true}
reps:
  - {id: ann, email: ann@x.example, name: Ann, team: emea, capacity: 3,
     timezone: Europe/London, working_hours: "mon-fri 09:00-17:30"}
"""

BAD_CSV = """\
id,email,name,team,capacity,timezone,working_hours
ann,ann@x.example,Ann,emea,3,Europe/London,always
bob,bob@x.example,Bob,emea,lots,Europe/London,always
"""


async def _run(*args: str, database_url: str) -> tuple[int, str]:
    runner = CliRunner()
    env = {"HANDOFF_DATABASE_URL": database_url}
    result = await asyncio.to_thread(runner.invoke, app, list(args), env=env)
    return result.exit_code, result.output


async def test_import_applies_a_good_file_and_refuses_a_bad_one(
    routing: Routing, tmp_path: Path
) -> None:
    url = routing.settings.database_url
    bad = tmp_path / "reps.csv"
    bad.write_text(BAD_CSV)
    code, output = await _run("reps", "import", str(bad), database_url=url)
    assert code == 1
    assert "reps[1].capacity: line 3: " in output
    assert await routing.rows("SELECT id FROM routing.reps") == []
    good = tmp_path / "org.yaml"
    good.write_text(GOOD)
    code, output = await _run("reps", "import", str(good), database_url=url)
    assert (code, output.strip()) == (0, "imported 1 teams, 1 reps")
    assert await routing.rows("SELECT id, capacity FROM routing.reps") == [("ann", 3)]
    code, output = await _run("reps", "import", str(bad), database_url=url)
    assert code == 1 and "reps[1].capacity" in output
    assert await routing.rows("SELECT id FROM routing.reps") == [("ann",)]
