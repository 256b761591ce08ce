"""The JSON log lines: the direct access line has the shape `logging`'s handler gives."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from shared.logs import bind, configure_logging, info_line

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
