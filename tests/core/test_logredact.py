"""core.logredact: what the redaction removes and keeps, and the filter on a record's parts."""

from __future__ import annotations

import io
import logging
import sys

import pytest
from celery import signals

import config.celery  # noqa: F401  (connects the signal handlers)
from core.logredact import RedactSecrets, redact

JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJwYXRpZW50In0.c2lnbmF0dXJl-_x"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('"POST /api/v1/join/Ab-_9xYz HTTP/1.1" 200', '"POST /api/v1/join/[redacted] HTTP/1.1" 200'),
        ("POST /api/v1/join/Ab-_9xYz/consent", "POST /api/v1/join/[redacted]/consent"),
        ("GET /join/Ab-_9xYz?lang=en", "GET /join/[redacted]?lang=en"),
        ("GET /api%2Fv1%2Fjoin%2FAb-_9xYz", "GET /api%2Fv1%2Fjoin%2F[redacted]"),
        ("/api/v1/recordings/1/download?token=eyJy:1t:sig&x=1", "/api/v1/recordings/1/download?token=[redacted]&x=1"),
        ("?X-Amz-Signature=ab12&X-Amz-Credential=AK%2F1", "?X-Amz-Signature=[redacted]&X-Amz-Credential=[redacted]"),
        ("Authorization: Api-Key AbC12345.secret", "Authorization: Api-Key [redacted]"),
        ("Authorization: Bearer opaque", "Authorization: Bearer [redacted]"),
        (f"token {JWT} refused", "token [redacted] refused"),
    ],
)
def test_redact_removes_the_secret_and_keeps_the_rest_of_the_line(line, expected):
    assert redact(line) == expected


def test_redact_leaves_lines_without_secrets_alone():
    line = '"GET /api/v1/rooms/5c0a?limit=50 HTTP/1.1" 200 event=EV_1 room=RM_2 joined'
    assert redact(line) == line


def _record(msg, args, exc_info=None) -> logging.LogRecord:
    return logging.LogRecord("django.request", logging.ERROR, __file__, 1, msg, args, exc_info)


def test_the_filter_redacts_arguments_formatted_into_the_message():
    record = _record("Service Unavailable: %s", ("/api/v1/join/Ab-_9xYz",))
    assert RedactSecrets().filter(record) is True
    assert logging.Formatter("%(message)s").format(record) == "Service Unavailable: /api/v1/join/[redacted]"


def test_the_filter_redacts_a_traceback_and_a_message_whose_format_is_broken():
    try:
        raise ValueError("cannot handle /join/Ab-_9xYz")
    except ValueError:
        record = _record("failed %s %s", ("/join/Cd-_8wVu",), sys.exc_info())
    RedactSecrets().filter(record)
    formatted = logging.Formatter("%(message)s").format(record)
    assert "Ab-_9xYz" not in formatted and "Cd-_8wVu" not in formatted
    assert "ValueError: cannot handle /join/[redacted]" in formatted


def test_the_celery_worker_and_beat_log_handlers_redact_secrets():
    stream = io.StringIO()
    logger = logging.getLogger("tests.celery_root_stand_in")
    logger.addHandler(logging.StreamHandler(stream))
    logger.propagate = False
    # What Celery sends once it has put its own handlers on the root logger (worker and beat).
    signals.after_setup_logger.send(
        sender=None, logger=logger, loglevel=logging.INFO, logfile=None, format="", colorize=False
    )
    logger.warning("task failed for %s", "/api/v1/join/Ab-_9xYz")
    assert stream.getvalue() == "task failed for /api/v1/join/[redacted]\n"
