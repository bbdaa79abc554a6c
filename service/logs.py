"""Structured JSON logs, one object per line, carrying the request id."""

from __future__ import annotations

import logging
import sys
import time
from datetime import UTC, datetime

import orjson

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(
                   timespec="milliseconds"),
               "level": record.levelname, "logger": record.name,
               "message": record.getMessage()}
        for key in record.__dict__.keys() - _STANDARD:
            if not key.startswith("_"):
                out[key] = record.__dict__[key]
        if record.exc_info:
            out["traceback"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


def configure(level: str) -> logging.Logger:
    log = logging.getLogger("riskmodel.service")
    if not any(isinstance(h.formatter, JsonFormatter) for h in log.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        log.addHandler(handler)
    log.setLevel(level.upper())
    log.propagate = False
    return log


_second: tuple[int, str] = (-1, "")  # the last second formatted, and its text


def utc_now_ms() -> str:
    """Now in UTC as ISO 8601 with milliseconds (``2026-11-27T22:06:29.143+00:00``), the
    format of every log line's ``time``. The date and time of day are formatted once a
    second, not once a request."""
    global _second
    sec, ns = divmod(time.time_ns(), 1_000_000_000)
    cached = _second
    if cached[0] != sec:
        cached = _second = (sec, datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    return f"{cached[1]}.{ns // 1_000_000:03d}+00:00"


def access_line(log: logging.Logger, fields: dict) -> None:
    """Write one request's JSON line through the logger's handlers, without building a
    LogRecord or scanning it: the same line a ``log.info("request", extra=fields)`` would
    give, at a fraction of the cost on the hot path."""
    if not log.isEnabledFor(logging.INFO):
        return
    line = orjson.dumps({"time": utc_now_ms(), "level": "INFO", "logger": log.name,
                         "message": "request", **fields}, default=str).decode() + "\n"
    for handler in log.handlers:
        stream = getattr(handler, "stream", None)
        if stream is None:  # not a stream handler: take the ordinary way
            log.info("request", extra=fields)
            return
        handler.acquire()
        try:
            stream.write(line)
            stream.flush()
        finally:
            handler.release()

