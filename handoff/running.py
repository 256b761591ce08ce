"""What the commands that act on a running stack learn from it: its home, where `handoff up`
writes `stack.json` (service URLs, broker address, database URL)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from shared.settings import Settings

HomeOption = Annotated[
    Path, typer.Option(envvar="HANDOFF_HOME", help="Where the embedded stack keeps its state.")
]


def _state_file(home: Path) -> Path:
    return Path(os.environ.get("HANDOFF_HOME", home)) / "stack.json"


def settings_for_running_stack(home: Path = Path(".handoff")) -> Settings:
    """Settings from the environment; without HANDOFF_DATABASE_URL, the embedded stack's."""
    state_file = _state_file(home)
    if "HANDOFF_DATABASE_URL" not in os.environ and state_file.exists():
        return Settings(database_url=json.loads(state_file.read_text())["database_url"])
    return Settings()


def bootstrap_for_tools(home: Path = Path(".handoff")) -> str:
    """HANDOFF_KAFKA_BOOTSTRAP, else the running stack's broker."""
    if "HANDOFF_KAFKA_BOOTSTRAP" in os.environ:
        return os.environ["HANDOFF_KAFKA_BOOTSTRAP"]
    state_file = _state_file(home)
    if state_file.exists():
        return str(json.loads(state_file.read_text())["kafka_bootstrap"])
    return Settings().kafka_bootstrap
