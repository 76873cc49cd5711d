"""How HubSpot says "throttled", how much of its budget is used, and what went wrong.

Facts relied on (api-shapes.md, section 4):

- Throttling is HTTP 429 with ``{"status": "error", "message": "You have reached your
  ten_secondly_rolling limit.", "errorType": "RATE_LIMIT", "policyName":
  "TEN_SECONDLY_ROLLING" | "SECONDLY" | "DAILY", "correlationId": ...}``. The rolling
  limits pass within seconds; the ``DAILY`` one resets at midnight in the account's time
  zone, so it is not waited for within a run (the wait is reported as unbounded and the
  shared client fails the attempt at once, transiently).
- Responses other than search carry ``X-HubSpot-RateLimit-Max``, ``-Remaining`` and
  ``-Interval-Milliseconds`` (the rolling window), and on some tiers ``-Daily`` and
  ``-Daily-Remaining``: `usage` turns them into the share of the budget used, so the
  shared client slows down before HubSpot says 429.
- 401 (``{"status": "error", "category": "INVALID_AUTHENTICATION"}``, bad or expired
  token) and 403 (``MISSING_SCOPES``) are never transient; 400 ``VALIDATION_ERROR`` is a
  bad request. The shared client fails all three at once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from reach2revenue.contracts import ErrorPolicy, UsageHint

#: ``errorType`` of HubSpot's throttle bodies.
RATE_LIMIT = "RATE_LIMIT"
#: The policy whose limit resets only at the account's midnight.
DAILY_POLICY = "DAILY"


def is_throttle(status: int, body: Any) -> bool:
    """True for HubSpot's rate-limit body (whatever the status; 429 is a throttle anyway)."""
    return isinstance(body, dict) and body.get("errorType") == RATE_LIMIT


def _int(headers: Mapping[str, str], name: str) -> int | None:
    try:
        return int(str(headers.get(name)))
    except (TypeError, ValueError):
        return None


def usage(status: int, headers: Mapping[str, str], body: Any) -> UsageHint | None:
    """The share of the rolling (and daily) budget used, the window to pace over, and an
    unbounded wait when the daily limit is what refused the call."""
    throttled = status == 429 or is_throttle(status, body)
    daily_refusal = throttled and isinstance(body, dict) and body.get("policyName") == DAILY_POLICY
    shares: list[float] = []
    limit, remaining = (
        _int(headers, "X-HubSpot-RateLimit-Max"),
        _int(headers, "X-HubSpot-RateLimit-Remaining"),
    )
    if limit and remaining is not None:
        shares.append(1.0 - remaining / limit)
    daily, daily_remaining = (
        _int(headers, "X-HubSpot-RateLimit-Daily"),
        _int(headers, "X-HubSpot-RateLimit-Daily-Remaining"),
    )
    if daily and daily_remaining is not None:
        shares.append(1.0 - daily_remaining / daily)
        daily_refusal = daily_refusal or (throttled and daily_remaining <= 0)
    interval = _int(headers, "X-HubSpot-RateLimit-Interval-Milliseconds")
    if not shares and not daily_refusal:
        return None
    return UsageHint(
        used=max(shares) if shares else None,
        reset_seconds=interval / 1000.0 if interval else None,
        wait_seconds=math.inf if daily_refusal else None,
        note="daily limit reached (resets at midnight in the account's time zone)"
        if daily_refusal
        else (f"{remaining}/{limit} calls left in the window" if limit else ""),
    )


ERRORS = ErrorPolicy(is_throttle=is_throttle, usage=usage)
