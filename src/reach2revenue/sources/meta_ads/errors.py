"""How the Graph API says "throttled", how much of its budget is used, and what failed.

Errors are HTTP 400 (rarely 4xx/5xx) with an ``error`` object and a numeric ``code``
(api-shapes.md, section 1):

- throttles (transient): ``4`` app limit, ``17`` user/account limit, ``32`` page limit,
  ``613`` too many calls from the ad account, ``80000``-``80014`` the Business-Use-Case
  limits (per ad account and use case, e.g. ads_insights), and any ``is_transient``
  error (``1``/``2`` unknown or temporary errors);
- never transient: ``190`` invalid or expired token, ``10``/``200``-``299`` missing
  permission, ``100`` invalid parameter, ``2635`` deprecated version. Waiting cannot fix
  them, so the shared client fails at once.

Every response carries usage headers, JSON in a header value, percentages of the budget:
``x-business-use-case-usage`` ``{"<account id>": [{"type": "ads_insights", "call_count",
"total_cputime", "total_time", "estimated_time_to_regain_access": <minutes>}]}``,
``x-app-usage`` ``{"call_count", "total_cputime", "total_time"}``, ``x-ad-account-usage``
``{"acc_id_util_pct", "reset_time_duration": <seconds>}`` and
``x-fb-ads-insights-throttle`` ``{"app_id_util_pct", "acc_id_util_pct"}``. `usage` reads
them all into one hint: the highest percentage, the time to reset and, when throttled,
the time to regain access (Meta's throttle lasts minutes, far longer than a backoff).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from reach2revenue.contracts import ErrorPolicy, UsageHint

# Meta Graph API error codes that mean "throttled, try later" (sent with HTTP 400):
# 4 app limit, 17 user/account limit, 32 page limit, 613 too many calls from the ad
# account; 80000-80014 are the Business-Use-Case limits.
THROTTLE_CODES = frozenset({4, 17, 32, 613, *range(80000, 80015)})
#: Codes no wait can fix, even if a body were to call them transient: the token (190),
#: permissions (10, 200-299), an invalid parameter (100).
PERMANENT_CODES = frozenset({10, 100, 190, *range(200, 300)})
USAGE_HEADERS = (
    "x-business-use-case-usage",
    "x-app-usage",
    "x-ad-account-usage",
    "x-fb-ads-insights-throttle",
)
_PERCENT_KEYS = (
    "call_count",
    "total_cputime",
    "total_time",
    "acc_id_util_pct",
    "app_id_util_pct",
)


def error_code(body: Any) -> int | None:
    """The Graph ``error.code`` of a body, or None."""
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return None
    try:
        return int(body["error"].get("code"))
    except (TypeError, ValueError):
        return None


def is_throttle(status: int, body: Any) -> bool:
    """True if a Graph API error body says the caller is rate limited (or transient)."""
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return False
    code = error_code(body)
    if code in PERMANENT_CODES:
        return False
    if body["error"].get("is_transient") is True:
        return True
    return code in THROTTLE_CODES


def _header_json(headers: Mapping[str, str], name: str) -> Any:
    value = headers.get(name)
    if not value:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def usage(status: int, headers: Mapping[str, str], body: Any) -> UsageHint | None:
    """The tightest of Meta's usage headers: percent used, seconds to reset, and the
    ``estimated_time_to_regain_access`` (minutes) as a wait; None without any header."""
    entries: list[dict[str, Any]] = []
    for name in USAGE_HEADERS:
        value = _header_json(headers, name)
        if name == "x-business-use-case-usage" and isinstance(value, dict):
            # One list of use cases per ad account (or business) id.
            for items in value.values():
                if isinstance(items, list):
                    entries.extend(item for item in items if isinstance(item, dict))
        elif isinstance(value, dict):
            entries.append(value)
    if not entries:
        return None
    percents = [
        pct
        for entry in entries
        for key in _PERCENT_KEYS
        if (pct := _number(entry.get(key))) is not None
    ]
    regain = [
        m
        for entry in entries
        if (m := _number(entry.get("estimated_time_to_regain_access"))) is not None
    ]
    resets = [
        s for entry in entries if (s := _number(entry.get("reset_time_duration"))) is not None
    ]
    wait = max(regain) * 60.0 if regain and max(regain) > 0 else None
    used = max(percents) / 100.0 if percents else None
    parts = []
    if used is not None:
        parts.append(f"usage {used:.0%}")
    if wait is not None:
        parts.append(f"estimated_time_to_regain_access {max(regain):g} min")
    return UsageHint(
        used=used,
        reset_seconds=max(resets) if resets else None,
        wait_seconds=wait,
        note=", ".join(parts),
    )


ERRORS = ErrorPolicy(is_throttle=is_throttle, usage=usage)
