"""The JSON log lines: the direct access line has the shape `logging`'s handler gives."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest

from shared import logs
from shared.logs import bind, configure_logging, info_line
from tests.helpers import wait_for

FIELDS = {"method": "POST", "route": "/v1/leads", "path": "/v1/leads", "status": 202}


@pytest.fixture
def configured() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    level = root.level
    configure_logging("svc", "INFO")
    log = logging.getLogger("handoff.test_logs")
    try:
        yield log
    finally:
        log.disabled = False
        root.setLevel(level)


def lines(err: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in err.splitlines()]


def test_the_direct_line_is_the_object_the_handler_writes_field_for_field_in_order(
    configured: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    with bind(request_id="r-1", lead_id="lead-1", route="bound-loses-to-the-line"):
        configured.info("POST /v1/leads 202", extra=FIELDS)
        info_line(configured, "POST /v1/leads 202", FIELDS)
    handled, direct = lines(capsys.readouterr().err)
    assert handled.pop("time") and direct.pop("time")
    assert list(direct.items()) == list(handled.items())
    assert direct["request_id"] == "r-1" and direct["lead_id"] == "lead-1"
    assert direct["route"] == "/v1/leads" and direct["service"] == "svc"


def test_the_direct_line_carries_a_utc_time_and_escapes_what_json_must(
    configured: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    info_line(configured, 'GET "/x"\nnext', {"path": "/caf\u00e9\n"})
    (line,) = capsys.readouterr().err.splitlines()
    parsed = json.loads(line)
    assert parsed["message"] == 'GET "/x"\nnext' and parsed["path"] == "/caf\u00e9\n"
    assert str(parsed["time"]).endswith("+00:00")


def test_the_level_and_a_disabled_logger_still_decide(
    configured: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("svc", "WARNING")  # HANDOFF_LOG_LEVEL=WARNING
    info_line(configured, "dropped", FIELDS)
    configure_logging("svc", "INFO")
    configured.disabled = True
    info_line(configured, "dropped too", FIELDS)
    configured.disabled = False
    info_line(configured, "kept", FIELDS)
    assert [line["message"] for line in lines(capsys.readouterr().err)] == ["kept"]


def test_the_direct_line_is_utf8_json_on_any_stderr_in_order_with_the_handlers_lines(
    configured: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = io.BytesIO()
    ascii_stderr = io.TextIOWrapper(raw, encoding="ascii", errors="backslashreplace")
    monkeypatch.setattr(sys, "stderr", ascii_stderr)
    info_line(configured, "caf\u00e9", FIELDS)
    configured.warning("through the handler")
    info_line(configured, "last", FIELDS)
    ascii_stderr.flush()
    text_only = io.StringIO()
    monkeypatch.setattr(sys, "stderr", text_only)
    info_line(configured, "caf\u00e9", FIELDS)
    written = [json.loads(line) for line in raw.getvalue().decode().splitlines()]
    assert [line["message"] for line in written] == ["caf\u00e9", "through the handler", "last"]
    assert json.loads(text_only.getvalue())["message"] == "caf\u00e9"


@pytest.mark.asyncio
async def test_on_the_event_loop_lines_are_held_briefly_then_written(
    configured: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write per line was a fifth of capture's throughput: lines written while a loop runs
    are flushed together within FLUSH_AFTER_S (or at exit, or with a handler's line)."""
    raw = io.BytesIO()
    monkeypatch.setattr(sys, "stderr", io.TextIOWrapper(io.BufferedWriter(raw)))  # type: ignore[arg-type]
    for n in range(3):
        info_line(configured, f"line {n}", FIELDS)
    assert raw.getvalue() == b""  # held, no write yet
    await wait_for(lambda: raw.getvalue().count(b"\n") == 3, timeout_s=1, message="the flush")


def test_before_configure_logging_the_line_goes_through_logging(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logs, "_service", None)
    caplog.set_level(logging.INFO, logger="handoff.test_logs")
    info_line(logging.getLogger("handoff.test_logs"), "through logging", FIELDS)
    (record,) = caplog.records
    assert record.getMessage() == "through logging" and record.__dict__["status"] == 202
