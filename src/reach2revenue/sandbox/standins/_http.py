"""Server plumbing shared by the stand-ins: threads, routing, clock, faults, stats, limits.

A stand-in is a stdlib ``ThreadingHTTPServer`` serving JSON. Subclasses implement the
platform: `StandinServer.route` for the API, `StandinServer.error_response` for the
platform's canned error bodies, and `StandinServer.check_auth` /
`StandinServer.check_rate_limit`. The control plane under ``/__standin/`` is the same for
every platform, is never counted or faulted, and requires the stand-in's token (the API's
bearer token, as ``Authorization: Bearer`` or ``X-Standin-Token``): anyone who can reach
the port could otherwise move clocks, queue faults or change answers.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from reach2revenue.sandbox.standins._drift import ResponseDrift, drift_from_dict
from reach2revenue.sandbox.world import format_instant, parse_instant

_log = logging.getLogger(__name__)

CONTROL_PREFIX = "/__standin/"
CONTROL_TOKEN_HEADER = "X-Standin-Token"
_LOG_LIMIT = 10_000


@dataclass
class Request:
    """One parsed HTTP request."""

    method: str
    path: str
    query: dict[str, list[str]]
    query_pairs: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes = b""
    host: str = ""

    def param(self, name: str, default: str | None = None) -> str | None:
        """The first value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        """The body parsed as JSON (None when empty).

        Raises:
            ValueError: when the body is not valid JSON.
        """
        if not self.body.strip():
            return None
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        """A request header, case-insensitively."""
        return self.headers.get(name.lower())


@dataclass
class Response:
    """A response: ``body`` is sent as JSON, unless it is ``str`` or ``bytes`` (CSV, plain
    text), which go out as they are with the ``Content-Type`` of ``headers``."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    """A queued canned error: the next ``remaining`` requests under ``path_prefix`` get it."""

    path_prefix: str
    status: int
    remaining: int
    body: Any = None


class RollingLimiter:
    """At most ``limit`` hits per key in any rolling ``window`` seconds (wall clock)."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> bool:
        """Record one hit for ``key``; False (and nothing recorded) if over the limit."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            return True

    def remaining(self, key: str) -> int:
        """Hits left for ``key`` in the current window."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits.get(key, deque())
            return max(0, self.limit - sum(1 for t in hits if t > now - self.window))

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` may hit again (0 when it may now)."""
        now = time.monotonic()
        with self._lock:
            hits = [t for t in self._hits.get(key, ()) if t > now - self.window]
            if len(hits) < self.limit:
                return 0.0
            return max(0.0, hits[len(hits) - self.limit] + self.window - now)

    def reset(self) -> None:
        """Forget all hits."""
        with self._lock:
            self._hits.clear()


def new_correlation_id() -> str:
    """A random id for error bodies, as the platforms put in theirs."""
    return str(uuid.uuid4())


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keeps connections alive so a paging client does not reconnect per page.
    protocol_version = "HTTP/1.1"
    # Headers and body leave in separate writes; with Nagle on, each small response waits
    # for the client's delayed ACK (~40 ms) on a kept-alive connection.
    disable_nagle_algorithm = True
    server_version = "reach2revenue-standin"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the stats endpoint is the request log."""

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        pairs = parse_qsl(split.query, keep_blank_values=True)
        query: dict[str, list[str]] = {}
        for key, value in pairs:
            query.setdefault(key, []).append(value)
        request = Request(
            method=self.command,
            path=split.path,
            query=query,
            query_pairs=pairs,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            host=self.headers.get("Host") or "",
        )
        response = self.server.standin.handle(request)
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-type"}
        content_type = next(
            (v for k, v in response.headers.items() if k.lower() == "content-type"), None
        )
        if isinstance(response.body, bytes | str):
            payload = (
                response.body.encode("utf-8") if isinstance(response.body, str) else response.body
            )
            content_type = content_type or "text/plain;charset=utf-8"
        else:
            payload = json.dumps(response.body, ensure_ascii=False).encode("utf-8")
            content_type = "application/json;charset=utf-8"
        self.send_response(response.status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    standin: StandinServer


class StandinServer:
    """Base of a platform stand-in: lifecycle, clock, faults, stats and the control plane.

    A subclass sets ``source`` (the registered source it stands in for) and
    ``limit_prefix`` (how ``start_standins`` hands it its own limit overrides), and builds
    itself from a world in `from_world`.
    """

    platform = "standin"
    source = ""
    limit_prefix = ""

    def __init__(
        self,
        *,
        token: str,
        clock: datetime | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limits: bool = True,
    ) -> None:
        self.token = token
        # The API's token guards the control plane too; a public API's stand-in (no token)
        # gets a random one, known to whoever holds the server (`control_headers`).
        self.control_token = token or secrets.token_urlsafe(24)
        self.rate_limits = rate_limits
        self._clock = _aware(clock) if clock is not None else None
        self._faults: list[Fault] = []
        self._drifts: list[ResponseDrift] = []
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._status_counts: Counter[str] = Counter()
        self._log: deque[dict[str, Any]] = deque(maxlen=_LOG_LIMIT)
        self._httpd = _Server((host, port), _Handler)
        self._httpd.standin = self
        self._thread: threading.Thread | None = None

    @classmethod
    def from_world(cls, world: Any, **kwargs: Any) -> StandinServer:
        """The stand-in serving ``world`` (subclasses whose data is elsewhere override)."""
        return cls(world, **kwargs)  # type: ignore[call-arg]

    def connection_extra(self) -> dict[str, Any]:
        """The source's options as its Airflow connection ``extra`` (e.g. account ids)."""
        return {}

    def connection(self, token: str) -> dict[str, Any]:
        """The Airflow connection that points the source's extractor at this stand-in."""
        definition: dict[str, Any] = {"conn_type": "http", "host": self.url}
        if self.token:
            definition["password"] = token
        extra = self.connection_extra()
        if extra:
            definition["extra"] = extra
        return definition

    # ----------------------------------------------------------------- lifecycle

    @property
    def host(self) -> str:
        """The address the server listens on."""
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        """The port the server listens on (resolved when started with port 0)."""
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8123``."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> StandinServer:
        """Serve on a daemon thread; returns self."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"{self.platform}-standin",
                daemon=True,
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve on the calling thread until `stop` is called from another thread."""
        self._httpd.serve_forever(poll_interval=0.1)

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    # ----------------------------------------------------------------- clock

    def now(self) -> datetime:
        """The server clock: the instant set by `set_clock`, else the wall clock."""
        return self._clock if self._clock is not None else datetime.now(UTC)

    def set_clock(self, now: datetime | str | None) -> None:
        """Fix the server clock (an aware instant or ISO string); None = wall clock."""
        if now is None:
            self._clock = None
        elif isinstance(now, str):
            self._clock = parse_instant(now)
        else:
            self._clock = _aware(now)

    # ----------------------------------------------------------------- faults

    def inject_fault(self, path_prefix: str, status: int, count: int = 1, body: Any = None) -> None:
        """Queue ``count`` canned ``status`` errors for requests whose path starts so."""
        with self._lock:
            self._faults.append(Fault(path_prefix, int(status), int(count), body))

    def clear_faults(self) -> None:
        """Drop all queued faults."""
        with self._lock:
            self._faults.clear()

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and path.startswith(fault.path_prefix):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    # ----------------------------------------------------------------- schema drift

    def set_drift(self, drift: ResponseDrift) -> None:
        """Change every record of the successful answers under ``drift.path_prefix``
        (rename, remove, retype or add a field, drop the records key): see ``_drift``."""
        with self._lock:
            self._drifts.append(drift)

    def clear_drift(self) -> None:
        """Answer unchanged again."""
        with self._lock:
            self._drifts.clear()

    def _drifted(self, path: str, response: Response) -> Response:
        with self._lock:
            drifts = [d for d in self._drifts if path.startswith(d.path_prefix)]
        if not drifts or not 200 <= response.status < 300:
            return response
        body = response.body
        content_type = next(
            (v for k, v in response.headers.items() if k.lower() == "content-type"), ""
        )
        if isinstance(body, str | bytes) and "json" in content_type:
            body = json.loads(body)  # a stand-in that writes its own JSON text (Salesforce)
        for drift in drifts:
            if isinstance(body, dict | list):
                body = drift.apply_json(body)
            elif isinstance(body, str) and "csv" in content_type:
                body = drift.apply_csv(body)
        return Response(response.status, body, response.headers)

    # ----------------------------------------------------------------- stats

    def stats(self) -> dict[str, Any]:
        """Request counts per path and per status, and the recent request log."""
        with self._lock:
            return {
                "total": sum(self._counts.values()),
                "requests": dict(sorted(self._counts.items())),
                "statuses": dict(sorted(self._status_counts.items())),
                "log": list(self._log),
            }

    def request_count(self, path_prefix: str = "/") -> int:
        """Requests received whose path starts with ``path_prefix``."""
        with self._lock:
            return sum(n for path, n in self._counts.items() if path.startswith(path_prefix))

    def reset_stats(self) -> None:
        """Forget counted requests."""
        with self._lock:
            self._counts.clear()
            self._status_counts.clear()
            self._log.clear()

    # ----------------------------------------------------------------- dispatch

    def handle(self, request: Request) -> Response:
        """Answer one request: control plane, else faults, auth, limits, then the API."""
        if request.path.startswith(CONTROL_PREFIX):
            if not self.control_allowed(request):
                response = Response(
                    401,
                    {
                        "error": "the stand-in control plane requires the stand-in token "
                        f"(Authorization: Bearer or {CONTROL_TOKEN_HEADER})"
                    },
                    {"WWW-Authenticate": 'Bearer realm="standin-control"'},
                )
                return response
            return self._control(request)
        try:
            fault = self._take_fault(request.path)
            if fault is not None:
                response = self.error_response(fault.status)
                if fault.body is not None:
                    response = Response(fault.status, fault.body, response.headers)
            else:
                response = (
                    self.check_auth(request)
                    or (self.check_rate_limit(request) if self.rate_limits else None)
                    or self._drifted(request.path, self.route(request))
                )
        except Exception:
            # A bug or a broken world answers like the platform's own 500 would, so the
            # client sees a realistic failure; the traceback still goes to the log.
            _log.exception(
                "%s stand-in failed on %s %s", self.platform, request.method, request.path
            )
            response = self.error_response(500)
        self._record(request, response.status)
        return response

    def _record(self, request: Request, status: int) -> None:
        with self._lock:
            self._counts[request.path] += 1
            self._status_counts[str(status)] += 1
            self._log.append(
                {
                    "method": request.method,
                    "path": request.path,
                    "query": {k: v if len(v) > 1 else v[0] for k, v in request.query.items()},
                    "status": status,
                    "at": format_instant(datetime.now(UTC)),
                }
            )

    def control_headers(self) -> dict[str, str]:
        """Headers that authorise a call to this server's control plane."""
        return {CONTROL_TOKEN_HEADER: self.control_token}

    def control_allowed(self, request: Request) -> bool:
        """Whether a control-plane request carries the control token (constant time)."""
        offered = request.header(CONTROL_TOKEN_HEADER) or self.bearer_token(request) or ""
        return hmac.compare_digest(offered.encode(), self.control_token.encode())

    def _control(self, request: Request) -> Response:
        name = request.path[len(CONTROL_PREFIX) :].strip("/")
        try:
            payload = request.json() or {}
        except ValueError:
            return Response(400, {"error": "body is not JSON"})
        if name == "faults" and request.method == "POST":
            items = payload if isinstance(payload, list) else [payload]
            for item in items:
                self.inject_fault(
                    str(item["path_prefix"]),
                    int(item["status"]),
                    int(item.get("count", 1)),
                    item.get("body"),
                )
            return Response(200, {"queued": len(items)})
        if name == "faults" and request.method == "DELETE":
            self.clear_faults()
            return Response(200, {"cleared": True})
        if name == "faults" and request.method == "GET":
            with self._lock:
                faults = [vars(f).copy() for f in self._faults]
            return Response(200, {"faults": faults})
        if name == "drift" and request.method == "POST":
            items = payload if isinstance(payload, list) else [payload]
            try:
                drifts = [drift_from_dict(item) for item in items]
            except (KeyError, TypeError, ValueError) as error:
                return Response(400, {"error": f"bad drift: {error}"})
            for drift in drifts:
                self.set_drift(drift)
            return Response(200, {"drifts": len(drifts)})
        if name == "drift" and request.method == "DELETE":
            self.clear_drift()
            return Response(200, {"cleared": True})
        if name == "drift" and request.method == "GET":
            with self._lock:
                listed = [d.to_dict() for d in self._drifts]
            return Response(200, {"drifts": listed})
        if name == "clock" and request.method == "POST":
            self.set_clock(payload.get("now"))
            return Response(
                200, {"now": format_instant(self.now()), "fixed": self._clock is not None}
            )
        if name == "clock" and request.method == "GET":
            return Response(
                200, {"now": format_instant(self.now()), "fixed": self._clock is not None}
            )
        if name == "stats" and request.method == "GET":
            return Response(200, self.stats())
        if name in ("stats", "stats/reset") and request.method in ("DELETE", "POST"):
            self.reset_stats()
            return Response(200, {"reset": True})
        return Response(404, {"error": f"unknown control endpoint {request.method} {request.path}"})

    # ----------------------------------------------------------------- platform hooks

    def route(self, request: Request) -> Response:
        """Answer an authenticated, admitted API request."""
        raise NotImplementedError

    def error_response(self, status: int) -> Response:
        """The platform's canned error for an HTTP status (faults and crashes)."""
        raise NotImplementedError

    def check_auth(self, request: Request) -> Response | None:
        """None if the request carries the token, else the platform's auth error."""
        raise NotImplementedError

    def check_rate_limit(self, request: Request) -> Response | None:
        """None if the request is within limits, else the platform's throttle error."""
        return None

    # ----------------------------------------------------------------- helpers

    def bearer_token(self, request: Request) -> str | None:
        """The token of an ``Authorization: Bearer`` header."""
        header = request.header("authorization") or ""
        scheme, _, value = header.partition(" ")
        return value.strip() if scheme.lower() == "bearer" and value.strip() else None

    def base_url(self, request: Request) -> str:
        """Scheme and authority the client used, for absolute paging links."""
        return f"http://{request.host}" if request.host else self.url


def _aware(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        return instant.replace(tzinfo=UTC)
    return instant.astimezone(UTC)
