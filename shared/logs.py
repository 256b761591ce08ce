"""Structured logs: one JSON object per line, carrying the lead, event and correlation ids.

The consumer runner binds `lead_id`, `event_id` and `correlation_id` around each record; the
HTTP middleware binds `request_id`. Every log line written meanwhile carries them, so one
`grep <lead_id>` over the services' logs follows a lead through every service.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import sys
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson
from pythonjsonlogger.json import JsonFormatter

_bound: ContextVar[dict[str, str]] = ContextVar("handoff_log_context", default={})  # noqa: B039

HANDLER_NAME = "handoff-json"
RESERVED = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message"}

# The service named by `configure_logging`; None until then (lines then go through `logging`).
_service: str | None = None
_second: tuple[int, str] = (-1, "")  # the last whole second seen and its ISO text


class bind:  # used as a function: `with bind(lead_id=...):`
    """Add fields to every log line written inside the block (None values are left out).

    A class rather than a generator context manager: it wraps every request and every event
    handled, and costs a third as much (measured in bench/)."""

    __slots__ = ("_fields", "_token")

    def __init__(self, **fields: object) -> None:
        self._fields = fields

    def __enter__(self) -> None:
        added = {k: str(v) for k, v in self._fields.items() if v is not None}
        self._token = _bound.set(_bound.get() | added)

    def __exit__(self, *_: object) -> None:
        _bound.reset(self._token)


def bound() -> dict[str, str]:
    return _bound.get()


class _ContextFilter(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self._service
        for name, value in _bound.get().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


class _StderrHandler(logging.StreamHandler[Any]):
    """Writes to whatever `sys.stderr` is at the time (test runners swap and close theirs)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


def configure_logging(service: str, level: str = "INFO") -> None:
    """JSON lines on stderr for the whole process, uvicorn's own loggers included."""
    handler = _StderrHandler()
    handler.setFormatter(
        JsonFormatter(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",
        )
    )
    handler.addFilter(_ContextFilter(service))
    handler.set_name(HANDLER_NAME)
    global _service
    _service = service
    root = logging.getLogger()
    # Replace only our own handler: a test runner's capturing handlers stay.
    root.handlers[:] = [h for h in root.handlers if h.get_name() != HANDLER_NAME] + [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # One line per request comes from `shared.http.RequestObserver`, with the route and the id.
    access = logging.getLogger("uvicorn.access")
    access.handlers[:] = []
    access.propagate = False
    logging.getLogger("aiokafka").setLevel(max(logging.getLevelName(level), logging.WARNING))


def extra(**fields: Any) -> dict[str, Any]:
    """`log.info(..., extra=extra(lead_id=...))` without clobbering LogRecord's own names."""
    return {k: v for k, v in fields.items() if k not in RESERVED and v is not None}


def info_line(log: logging.Logger, message: str, fields: dict[str, Any]) -> None:
    """One INFO line for `log`, the same JSON object the handler would write for
    `log.info(message, extra=fields)` (same keys in the same order), built and written
    directly: no LogRecord, filter, formatter or handler lock, and encoded by orjson (compact,
    UTF-8). For lines written on every request: measured in bench/, the `logging` path was ~7 %
    of capture's instructions per lead, this one under 1 %. The logger's level and `disabled`
    still decide; other handlers (a test's log capture, say) do not see these lines.
    Before `configure_logging`, the line goes through `logging` as usual."""
    if not log.isEnabledFor(logging.INFO):
        return
    if _service is None:
        log.info(message, extra=extra(**fields))
        return
    line = {"level": "INFO", "logger": log.name, "message": message} | fields
    line["service"] = _service
    for name, value in _bound.get().items():
        line.setdefault(name, value)
    line["time"] = _utc_now()
    _write(orjson.dumps(line, default=str, option=orjson.OPT_APPEND_NEWLINE))


FLUSH_AFTER_S = 0.05  # the most a request's line waits in the buffer


def _write(data: bytes) -> None:
    """To whatever `sys.stderr` is now, as the handler does: UTF-8 bytes to its binary buffer
    (whatever the text layer's encoding). Not flushed per line: a write per request was a fifth
    of capture's throughput (system time callgrind does not count; bench/README.md). Within
    FLUSH_AFTER_S on the event loop, at exit, or with the next line any handler writes (the text
    layer's flush pushes the buffer out first, so the order holds)."""
    stream = sys.stderr
    buffer = getattr(stream, "buffer", None)
    if buffer is None:
        stream.write(data.decode())
        stream.flush()
        return
    buffer.write(data)
    global _unflushed
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # no event loop: nothing would flush it later
        buffer.flush()
        return
    if _unflushed == (stream, loop):
        return  # a flush is due on this loop already
    _flush()  # lines written to another stream, or on a loop that has ended, go out now
    loop.call_later(FLUSH_AFTER_S, _flush)
    _unflushed = (stream, loop)


def _flush() -> None:
    global _unflushed
    pending, _unflushed = _unflushed, None
    if pending is not None:
        with contextlib.suppress(ValueError, OSError):  # closed or gone at exit
            pending[0].flush()


# The stream holding lines not flushed yet, and the loop that will flush them.
_unflushed: tuple[Any, asyncio.AbstractEventLoop] | None = None
atexit.register(_flush)


def _utc_now() -> str:
    """`datetime.now(UTC).isoformat()` (always with microseconds), the date and time of day
    formatted once per second."""
    global _second
    now = time.time()
    whole = int(now)
    if whole != _second[0]:
        _second = (whole, datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    return f"{_second[1]}.{int((now - whole) * 1e6):06d}+00:00"
