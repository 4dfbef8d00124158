"""Secrets out of log lines: one redaction function, applied by a logging filter (Django's and
Celery's handlers) and by gunicorn's logger class (access and error log). It must never raise.

What it removes: join-link secrets in `/join/<secret>` paths (the API's and the browser page's),
the value of any `token`/`*signature`/`*credential` query parameter (recording download tokens,
presigned URLs), JWTs (join tokens, webhook signatures) and `Api-Key`/`Bearer` credentials.
"""

from __future__ import annotations

import logging
import re

from gunicorn.glogging import Logger as _GunicornLogger

REDACTED = "[redacted]"

_PATTERNS = (
    # /join/<secret> and /join/<secret>/consent; "%2F" is what a client may send for the slashes
    re.compile(r"(?i)((?:/|%2f)join(?:/|%2f))[^/?#\s\"'&]+"),
    re.compile(r"(?i)([?&;][\w.-]*(?:token|signature|credential)=)[^&;#\s\"']+"),
    re.compile(r"(?i)(\b(?:api-key|bearer)\s+)[^\s\"',]+"),
    re.compile(r"()\beyJ[\w-]*\.[\w-]+\.[\w-]+"),  # a JWT (base64url of '{"' first); nothing kept
)


def redact(text: str) -> str:
    """`text` with every secret it carries replaced by [redacted]."""
    for pattern in _PATTERNS:
        text = pattern.sub(lambda match: match.group(1) + REDACTED, text)
    return text


class RedactSecrets(logging.Filter):
    """Rewrites a record's message (its arguments formatted in), traceback and stack with `redact`.

    Installed on handlers, so it sees records propagated from every logger below them."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: the handler would print msg and args as they are
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = redact(str(message)), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_redact_secrets = RedactSecrets()


def redact_handlers(logger: logging.Logger) -> None:
    """Put the filter on every handler `logger` has (Celery sets up its handlers itself)."""
    for handler in logger.handlers:
        handler.addFilter(_redact_secrets)


class GunicornLogger(_GunicornLogger):
    """gunicorn's logger (`--logger-class core.logredact.GunicornLogger`) whose access and error
    logs are redacted: the request line, the referer, "Error handling request <uri>"."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            log.addFilter(_redact_secrets)  # the logger's own records; gunicorn logs on no child logger
