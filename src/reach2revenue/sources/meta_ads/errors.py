"""How the Graph API says "throttled": HTTP 400 with an ``error`` object and a code."""

from __future__ import annotations

from typing import Any

from reach2revenue.contracts import ErrorPolicy

# Meta Graph API error codes that mean "throttled, try later" (sent with HTTP 400):
# 4 app limit, 17 user/account limit, 32 page limit, 613 too many calls from the ad
# account; 80000-80014 are the Business-Use-Case limits.
THROTTLE_CODES = frozenset({4, 17, 32, 613, *range(80000, 80015)})


def is_throttle(status: int, body: Any) -> bool:
    """True if a Graph API error body says the caller is rate limited (or transient)."""
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return False
    error = body["error"]
    if error.get("is_transient") is True:
        return True
    try:
        return int(error.get("code")) in THROTTLE_CODES
    except (TypeError, ValueError):
        return False


ERRORS = ErrorPolicy(is_throttle=is_throttle)
