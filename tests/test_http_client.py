"""The shared HTTP client against a tiny real server: failure classes, deadlines, charsets,
rate budgets; and ids that would become landing paths.

The server is a stdlib ``ThreadingHTTPServer`` whose answers each test scripts per path,
down to the byte and the pace at which bytes leave (a trickle of one byte a second).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from reach2revenue.contracts import Credentials, ErrorPolicy, UsageHint
from reach2revenue.failures import ConfigurationError, NonRetryableError, is_retryable
from reach2revenue.http_client import (
    ApiClient,
    ApiConfigurationError,
    ApiRequestError,
    ApiRetryError,
    DeadlineExceededError,
    RetryPolicy,
    UndecodableBodyError,
    declared_charset,
    record_exchanges,
    run_concurrently,
)
from reach2revenue.landing import ExtractionWriter, partition_dir, safe_path_component
from reach2revenue.sandbox.standins.meta_ads import MetaAdsServer
from reach2revenue.sandbox.world import World
from reach2revenue.sources.meta_ads.extract import extract_meta_ads
from reach2revenue.sources.meta_ads.settings import MetaAdsOptions

TOKEN = "http-client-token-91c3"
FAST = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02)

Script = Callable[[BaseHTTPRequestHandler], None]


def send(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


class Scripted:
    """A loopback HTTP server answering each path with a script; counts requests."""

    def __init__(self) -> None:
        self.scripts: dict[str, Script] = {}
        self.hits: dict[str, int] = {}
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                scripted.hits[path] = scripted.hits.get(path, 0) + 1
                script = scripted.scripts.get(path)
                if script is None:
                    send(self, 404, b'{"message": "no such path"}')
                    return
                # The client may hang up mid-answer (its deadline), as it should.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    script(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Scripted]:
    running = Scripted()
    try:
        yield running
    finally:
        running.stop()


def client(server: Scripted, **kwargs: Any) -> ApiClient:
    kwargs.setdefault("retry", FAST)
    return ApiClient("testapi", server.url, TOKEN, **kwargs)


# --------------------------------------------------------------------------- classes


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_input_errors_fail_at_once_and_are_not_retryable(server: Scripted, status: int) -> None:
    server.scripts["/x"] = lambda h: send(h, status, b'{"message": "no", "category": "C"}')
    with pytest.raises(ApiRequestError) as caught:
        client(server).get("x")
    assert caught.value.status == status and caught.value.attempts == 1
    assert isinstance(caught.value, NonRetryableError) and not is_retryable(caught.value)
    assert server.hits["/x"] == 1


@pytest.mark.parametrize("status", [500, 502, 503, 408])
def test_server_errors_are_retried_then_transient(server: Scripted, status: int) -> None:
    server.scripts["/x"] = lambda h: send(h, status, b"{}")
    with pytest.raises(ApiRetryError) as caught:
        client(server).get("x")
    assert caught.value.attempts == FAST.max_attempts == server.hits["/x"]
    assert is_retryable(caught.value)


def test_connection_refused_is_transient_and_bad_base_urls_are_configuration() -> None:
    with pytest.raises(ApiRetryError) as refused:
        ApiClient("testapi", "http://127.0.0.1:9", TOKEN, retry=FAST).get("x")
    assert is_retryable(refused.value)
    for base in ("127.0.0.1:8000", "ftp://example.org", "http://"):
        with pytest.raises(ApiConfigurationError) as caught:
            ApiClient("testapi", base, TOKEN, retry=FAST).get("x")
        assert isinstance(caught.value, ConfigurationError) and not is_retryable(caught.value)


def test_a_bad_deadline_setting_is_a_configuration_error(monkeypatch) -> None:
    monkeypatch.setenv("R2R_EXTRACTION_DEADLINE_SECONDS", "soon")
    with pytest.raises(ConfigurationError, match="R2R_EXTRACTION_DEADLINE_SECONDS"):
        ApiClient("testapi", "http://127.0.0.1:9", TOKEN)
    monkeypatch.setenv("R2R_EXTRACTION_DEADLINE_SECONDS", "60")
    assert ApiClient("testapi", "http://127.0.0.1:9", TOKEN).deadline_seconds == 60


# --------------------------------------------------------------------------- deadlines


def _trickle_body(handler: BaseHTTPRequestHandler) -> None:
    body = b'{"data": [' + b" " * 100 + b"]}"
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    for byte in body:  # one byte a second: each read succeeds, the whole never arrives
        handler.wfile.write(bytes([byte]))
        handler.wfile.flush()
        time.sleep(1.0)


def _trickle_headers(handler: BaseHTTPRequestHandler) -> None:
    for byte in b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" * 10:
        handler.wfile.write(bytes([byte]))
        handler.wfile.flush()
        time.sleep(0.5)


@pytest.mark.parametrize("script", [_trickle_body, _trickle_headers], ids=["body", "headers"])
def test_a_trickling_response_hits_the_request_deadline(server: Scripted, script: Script) -> None:
    server.scripts["/slow"] = script
    api = client(server, request_deadline=2.0, retry=RetryPolicy(max_attempts=1))
    started = time.monotonic()
    with pytest.raises(DeadlineExceededError) as caught:
        api.get("slow")
    took = time.monotonic() - started
    print(f"\n{script.__name__}: deadline 2.0s hit after {took:.2f}s")  # report figure
    assert 2.0 <= took < 3.0
    assert "connect, headers and the whole body" in str(caught.value)
    assert is_retryable(caught.value)


def test_the_extraction_deadline_caps_each_attempt(server: Scripted) -> None:
    server.scripts["/slow"] = _trickle_body
    api = client(server, deadline_seconds=1.5, retry=RetryPolicy(max_attempts=5))
    started = time.monotonic()
    with pytest.raises(DeadlineExceededError) as caught:
        api.get("slow")
    assert time.monotonic() - started < 2.5
    assert "extraction deadline" in str(caught.value)


# --------------------------------------------------------------------------- charsets


def test_bodies_are_decoded_by_their_declared_charset(server: Scripted) -> None:
    text = '{"data": [{"name": "Café Zürich – Ærø"}]}'
    server.scripts["/latin"] = lambda h: send(
        h, 200, text.replace("–", "-").encode("iso-8859-1"), "application/json; charset=ISO-8859-1"
    )
    server.scripts["/utf8"] = lambda h: send(h, 200, text.encode("utf-8"))
    server.scripts["/utf16"] = lambda h: send(
        h, 200, text.encode("utf-16"), 'application/json; charset="UTF-16"'
    )
    api = client(server)
    assert api.get("latin").text == text.replace("–", "-")
    assert api.get("utf8").text == text  # JSON without a charset is UTF-8
    assert api.get("utf16").data == json.loads(text)
    assert declared_charset("text/csv; charset=Windows-1252") == "windows-1252"
    assert declared_charset("application/json") is None


@pytest.mark.parametrize(
    ("body", "content_type", "needle"),
    [
        (b'{"name": "Caf\xe9"}', "application/json", "not valid utf-8 (JSON default) at byte 13"),
        (b'{"n": "\xff\xfe"}', "application/json; charset=utf-8", "not valid utf-8 (declared)"),
        (b"{}", "application/json; charset=klingon-8", "unknown charset 'klingon-8'"),
    ],
    ids=["latin1-as-utf8", "declared-utf8", "unknown-charset"],
)
def test_an_undecodable_body_fails_clearly_never_with_replacement_characters(
    server: Scripted, body: bytes, content_type: str, needle: str
) -> None:
    server.scripts["/bad"] = lambda h: send(h, 200, body, content_type)
    with pytest.raises(UndecodableBodyError) as caught:
        client(server).get("bad")
    message = str(caught.value).replace("offset ", "")
    assert needle in message
    assert "testapi" in message and "/bad" in message and "\ufffd" not in message
    assert not is_retryable(caught.value) and server.hits["/bad"] == 1


# --------------------------------------------------------------------------- budgets


def _usage_from_headers(status: int, headers: Any, body: Any) -> UsageHint | None:
    used = headers.get("X-Used")
    return UsageHint(
        used=float(used) if used else None,
        reset_seconds=1.0,
        wait_seconds=float(headers["X-Wait"]) if headers.get("X-Wait") else None,
        note="test budget",
    )


def test_a_stated_throttle_is_waited_out_beyond_max_attempts(server: Scripted) -> None:
    answers = iter([429] * 5 + [200])

    def throttled(handler: BaseHTTPRequestHandler) -> None:
        status = next(answers)
        send(handler, status, b'{"ok": true}', headers={"Retry-After": "0"} if status else {})

    server.scripts["/x"] = throttled
    api = client(server)
    assert api.get("x").data == {"ok": True}
    assert api.throttle_count == 5 > FAST.max_attempts  # not attempts: the budget at work


def test_a_throttle_longer_than_the_deadline_fails_at_once(server: Scripted) -> None:
    server.scripts["/x"] = lambda h: send(h, 400, b"{}", headers={"X-Wait": "3600"})
    policy = ErrorPolicy(is_throttle=lambda status, body: True, usage=_usage_from_headers)
    api = client(server, errors=policy, deadline_seconds=60)
    started = time.monotonic()
    with pytest.raises(DeadlineExceededError) as caught:
        api.get("x")
    assert time.monotonic() - started < 1.0 and server.hits["/x"] == 1
    assert "waiting 3600s does not fit in the extraction deadline (60s" in str(caught.value)
    assert "[test budget]" in str(caught.value) and is_retryable(caught.value)


def test_usage_near_the_limit_paces_the_next_request(server: Scripted) -> None:
    server.scripts["/x"] = lambda h: send(h, 200, b"{}", headers={"X-Used": "0.9"})
    slept: list[float] = []
    api = client(
        server, errors=ErrorPolicy(usage=_usage_from_headers), sleep=lambda s: slept.append(s)
    )
    api.get("x")
    api.get("x")
    assert slept and slept[0] == pytest.approx(0.5, abs=0.05)  # 90 % of 1 s, from 80 %
    assert api.pace_wait_seconds == pytest.approx(sum(slept))


def test_pace_keys_keep_separate_budgets_apart(server: Scripted) -> None:
    # Meta budgets calls per ad account: a nearly spent account paces only its own calls.
    server.scripts["/spent"] = lambda h: send(h, 200, b"{}", headers={"X-Used": "0.9"})
    server.scripts["/fresh"] = lambda h: send(h, 200, b"{}", headers={"X-Used": "0.1"})
    slept: list[float] = []
    api = client(
        server, errors=ErrorPolicy(usage=_usage_from_headers), sleep=lambda s: slept.append(s)
    )
    api.get("spent", pace_key="1001")
    api.get("fresh", pace_key="1002")
    assert slept == []  # account 1002 is not held back by account 1001's usage
    api.get("fresh", pace_key="1001")
    assert len(slept) == 1 and slept[0] == pytest.approx(0.5, abs=0.05)


def test_a_throttle_without_a_stated_wait_holds_back_its_budget(server: Scripted) -> None:
    # LinkedIn's 429 states no wait: the backoff holds every request against the same
    # budget (pace key), so threads sharing it do not each keep hitting it meanwhile.
    answers = iter([429, 200])
    hits: dict[str, float] = {}

    def answer(path: str, status: Callable[[], int]) -> Script:
        def script(handler: BaseHTTPRequestHandler) -> None:
            hits.setdefault(path, time.monotonic())
            send(handler, status(), b"{}")

        return script

    server.scripts["/x"] = answer("/x", lambda: next(answers))
    server.scripts["/y"] = answer("/y", lambda: 200)
    server.scripts["/z"] = answer("/z", lambda: 200)
    api = client(server, retry=RetryPolicy(max_attempts=3, base_delay=0.4, jitter=0.0))
    throttled = threading.Thread(target=lambda: api.get("x", pace_key="app"))
    throttled.start()
    time.sleep(0.1)  # the 429 has been answered; its backoff runs
    api.get("z", pace_key="other")  # another budget: not held back
    api.get("y", pace_key="app")  # the same budget: held until the backoff ends
    throttled.join()
    assert hits["/z"] - hits["/x"] < 0.3
    assert hits["/y"] - hits["/x"] >= 0.35


def test_proxy_and_ca_settings_are_read_from_the_environment_once(monkeypatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/company-ca.pem")
    api = ApiClient("testapi", "https://api.example.com", TOKEN)
    assert api.session.proxies.get("https") == "http://proxy.example:3128"
    assert api.session.verify == "/etc/ssl/company-ca.pem"
    assert api.session.trust_env is False  # not read again on every request
    bypassed = ApiClient("testapi", "https://internal.example", TOKEN)
    assert "https" not in bypassed.session.proxies


# --------------------------------------------------------------------------- concurrency


def test_run_concurrently_keeps_task_order_and_its_bound() -> None:
    running, most = [0], [0]
    lock = threading.Lock()

    def task(n: int) -> int:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.02)
        with lock:
            running[0] -= 1
        return n

    tasks = [lambda n=n: task(n) for n in range(12)]
    assert run_concurrently(tasks, 3) == list(range(12))
    assert most[0] == 3
    most[0] = 0
    assert run_concurrently(tasks, 1) == list(range(12)) and most[0] == 1


def test_run_concurrently_runs_the_first_task_alone_and_stops_at_a_failure() -> None:
    started: list[int] = []

    def task(n: int) -> int:
        started.append(n)
        if n == 0:
            raise ApiRequestError("testapi", "GET", "u", 401, "bad token")
        return n

    # A wrong token fails the first task before any other is started.
    with pytest.raises(ApiRequestError):
        run_concurrently([lambda n=n: task(n) for n in range(8)], 4)
    assert started == [0]

    started.clear()

    def later_failure(n: int) -> int:
        started.append(n)
        if n == 1:
            raise ApiRetryError("testapi", "GET", "u", 503, "down")
        time.sleep(0.05)
        return n

    with pytest.raises(ApiRetryError):
        run_concurrently([lambda n=n: later_failure(n) for n in range(40)], 2)
    assert len(started) < 40  # what had not started when task 1 failed never starts


def test_responses_count_their_tries_and_exchanges_record_the_headers_sent(
    server: Scripted,
) -> None:
    answers = iter([503, 200])
    server.scripts["/x"] = lambda h: send(h, next(answers), b"{}")
    api = client(server)
    api.session.headers["developer-token"] = "dev-token-1"
    with record_exchanges() as exchanges:
        response = api.get("x")
    assert response.tries == 2 == api.request_count
    # The session's own headers (a developer token, an API version) are part of what was
    # sent: the bench's replay would be refused without them.
    (exchange,) = exchanges
    assert exchange.headers["developer-token"] == "dev-token-1"
    assert exchange.headers["Authorization"] == f"Bearer {TOKEN}"


# --------------------------------------------------------------------------- paths


@pytest.mark.parametrize(
    "value", ["1001/../..", "..", ".", "", "a" * 129, "act 1", "x\\y", "1001\x00"]
)
def test_unsafe_path_components_are_configuration_errors(value: str) -> None:
    with pytest.raises(ConfigurationError, match="cannot name a landing directory"):
        safe_path_component(value, "account id")


def test_safe_ids_pass() -> None:
    for value in ("1001", "act_1001", "urn:li:sponsoredAccount:5", "2026-03-01", "a.b-c_d"):
        assert safe_path_component(value, "id") == value
    assert partition_dir(Path("/l"), "meta_ads", "insights", "2026-03-01", "1001-x") == Path(
        "/l/meta_ads/insights/date=2026-03-01/1001-x"
    )
    with pytest.raises(ConfigurationError):
        ExtractionWriter(
            Path("/l"),
            "meta_ads",
            "insights",
            partition_date="2026-03-01",
            window_start="2026-03-01",
            window_end="2026-03-02",
            extraction_id="../../etc",
            extracted_at=__import__("datetime").datetime.now(),
        )


def test_a_traversing_meta_account_id_fails_before_any_request_or_write(tmp_path: Path) -> None:
    start = date(2026, 3, 1)
    world = World.generate(seed=3, start=start, days=2, scale=0.1)
    meta = MetaAdsServer(world, token=TOKEN, clock=world.end + timedelta(hours=2)).start()
    landing = tmp_path / "home" / "landing"
    try:
        with pytest.raises(ConfigurationError) as caught:
            extract_meta_ads(
                Credentials(meta.url, TOKEN, MetaAdsOptions(("1001/../..",))),
                interval_start=start,
                interval_end=start + timedelta(days=1),
                landing_dir=landing,
                lookback_days=0,
            )
        assert meta.stats()["total"] == 0
    finally:
        meta.stop()
    assert "1001/../.." in str(caught.value) and "extraction id" in str(caught.value)
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written == []
