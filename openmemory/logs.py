"""No secret in any log line, whatever logger writes it (uvicorn prints WebSocket URLs with their ?token=).

Tokens are masked where log records are made, for every logger and handler of the process, and once more in
the formatted text of our handlers (tracebacks included).
"""
import logging
import re

_PATTERNS = [
    (re.compile(r"\bom_[A-Za-z0-9_-]+"), "om_***"),  # our API tokens, wherever they appear
    (re.compile(r"([?&;](?:token|access_token|refresh_token|code|code_verifier|client_secret|password)=)[^&\s\"'#]+",
                re.IGNORECASE), r"\1***"),
    (re.compile(r"\b(Bearer|Token)\s+[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE), r"\1 ***"),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact_arg(value):
    if isinstance(value, (int, float)) or value is None:
        return value  # keeps %d and %f working
    return redact(value if isinstance(value, str) else str(value))


def _redact_record(record: logging.LogRecord) -> logging.LogRecord:
    if isinstance(record.msg, str):
        record.msg = redact(record.msg)
    if isinstance(record.args, tuple):
        record.args = tuple(_redact_arg(arg) for arg in record.args)
    elif isinstance(record.args, dict):
        record.args = {key: _redact_arg(value) for key, value in record.args.items()}
    return record


class RedactingFormatter(logging.Formatter):
    def format(self, record):
        return redact(super().format(record))


_installed = False


def install() -> None:
    """Mask secrets in every log record this process makes from now on."""
    global _installed
    if _installed:
        return
    make = logging.getLogRecordFactory()
    logging.setLogRecordFactory(lambda *args, **kwargs: _redact_record(make(*args, **kwargs)))
    _installed = True
