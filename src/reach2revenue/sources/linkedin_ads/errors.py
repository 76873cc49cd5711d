"""How the LinkedIn Marketing API says "throttled" and what its error bodies say.

Throttling is HTTP 429 (LinkedIn's per-application and per-member daily limits per
endpoint, reset at 00:00 UTC; the numbers are only shown in the developer portal). The
429 body is not documented: we read ``{"status": 429, "code": "TOO_MANY_REQUESTS",
"message": "..."}``, the shape of LinkedIn's other errors (unconfirmed), and no
``Retry-After`` is known to be sent, so the shared client backs off exponentially.

Errors come in two shapes:

- ``{"status": 401, "code": "EXPIRED_ACCESS_TOKEN", "message": "..."}`` (auth, version,
  permission and throttle errors; some also carry ``serviceErrorCode``);
- ``{"errorDetailType": "com.linkedin.common.error.BadRequest", "message": "Invalid param.
  ...", "errorDetails": {"inputErrors": [{"description": ..., "input": {"inputPath":
  {"fieldPath": "search"}}, "code": "PARAM_INVALID"}]}}`` (a query value that does not
  parse, seen from API version 2024 on).

A 401 (expired, revoked or invalid token) and a 426 (``NONEXISTENT_VERSION``: the
``LinkedIn-Version`` was sunset) fail at once: waiting cannot fix either.
"""

from __future__ import annotations

from typing import Any

from reach2revenue.contracts import ErrorPolicy

#: Error codes that mean "try later", whatever the HTTP status that carries them.
THROTTLE_CODES = frozenset({"TOO_MANY_REQUESTS"})


def is_throttle(status: int, body: Any) -> bool:
    """True if a LinkedIn error body says the caller is rate limited."""
    return isinstance(body, dict) and body.get("code") in THROTTLE_CODES


def _input_errors(body: dict[str, Any]) -> list[str]:
    details = body.get("errorDetails")
    errors = details.get("inputErrors") if isinstance(details, dict) else None
    described = []
    for error in errors if isinstance(errors, list) else []:
        if not isinstance(error, dict):
            continue
        path = ((error.get("input") or {}).get("inputPath") or {}).get("fieldPath")
        text = str(error.get("description") or error.get("code") or "invalid input")
        described.append(f"{path}: {text}" if path else text)
    return described


def error_message(body: Any, text: str) -> str:
    """LinkedIn's own message with its code and the offending inputs; else the body start."""
    if not isinstance(body, dict) or not body.get("message"):
        return text[:500] if text else "(empty body)"
    message = str(body["message"])
    code = body.get("code") or body.get("serviceErrorCode")
    if code is not None:
        message = f"{message} ({code})"
    inputs = _input_errors(body)
    return f"{message}: {'; '.join(inputs)}" if inputs else message


ERRORS = ErrorPolicy(is_throttle=is_throttle, message=error_message)
