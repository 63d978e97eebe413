"""Tests for the SSRF-guarded outbound HTTP client, against local servers only."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_network
from pathlib import Path

import pytest

from reelhouse.net.fetch import AddressPolicy, BlockedAddressError, FetchError, check_url, download, post
from tests.conftest import IN_ONE_PASS

pytestmark = IN_ONE_PASS  # nothing here touches the database, so the PostgreSQL pass would only repeat it

VIDEO = bytes(range(256)) * 400  # 100 KiB, not valid UTF-8
OPEN = AddressPolicy(allow_private=True)
STRICT = AddressPolicy()


class _Handler(BaseHTTPRequestHandler):
    """Serves one canned behaviour per path; records what it was asked."""

    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        if "Content_Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _trickle(self, data: bytes) -> None:
        try:
            for i in range(len(data)):
                self.wfile.write(data[i : i + 1])
                self.wfile.flush()
                time.sleep(0.2)
        except OSError:
            pass

    def do_GET(self) -> None:
        self.server.requests.append((self.path, self.headers.get("Host", "")))
        path = self.path
        if path == "/video":
            self._send(200, VIDEO, Content_Type="video/mp4")
        elif path == "/html":
            self._send(200, b"<html></html>", Content_Type="text/html; charset=utf-8")
        elif path == "/empty":
            self._send(200, b"", Content_Type="video/mp4")
        elif path == "/declared-huge":
            self._send(200, b"x" * 1000, Content_Type="video/mp4", Content_Length=str(10**9))
        elif path == "/endless":
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.end_headers()
            try:
                for _ in range(10_000):  # ~640 MB if the client never stopped
                    self.wfile.write(b"x" * 65536)
            except OSError:
                pass
        elif path == "/truncated":
            self._send(200, b"x" * 10, Content_Type="video/mp4", Content_Length="1000")
        elif path == "/stall":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.flush()
            time.sleep(2)
        elif path == "/loop":
            self._send(302, Location="/loop")
        elif path.startswith("/redirect?to="):
            self._send(302, Location=path.removeprefix("/redirect?to="))
        else:
            self._send(404, b"not here")

    def do_POST(self) -> None:
        received = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.requests.append((self.path, self.headers.get("Host", "")))
        if self.path == "/hook":
            echo = json.dumps({"body": received.decode(), "signature": self.headers.get("X-Signature")})
            self._send(201, echo.encode(), X_Receiver="yes")
        elif self.path == "/moved":
            self._send(302, Location="/hook")
        elif self.path == "/huge":
            self._send(200, b"a" * 1_000_000)
        elif self.path == "/trickle-body":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.flush()
            self._trickle(b"b" * 100)
        elif self.path == "/trickle-headers":
            self._trickle(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        else:
            self._send(404)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[tuple[str, str]] = []

    @property
    def port(self) -> int:
        return self.server_address[1]

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


@pytest.fixture(scope="module")
def server() -> Iterator[_Server]:
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    return tmp_path / "media.bin"


# --- address policy ----------------------------------------------------------


@pytest.mark.parametrize(
    "ip",
    ["127.0.0.1", "::1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "fe80::1",
     "fd00::1", "100.64.0.1", "0.0.0.0", "0.1.2.3", "224.0.0.1", "240.0.0.1", "::", "::ffff:127.0.0.1",
     "::ffff:10.0.0.1",
     # IPv4 inside IPv6: 6to4, Teredo (client 127.0.0.1), NAT64, IPv4-compatible; then non-global unicast IPv6
     "2002:7f00:1::", "2002:a00:1::1", "2001:0:4136:e378:8000:0:80ff:fffe", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe",
     "::127.0.0.1", "::8.8.8.8", "fec0::1", "64:ff9b:1::808:808", "100::1", "ff02::1", "2001:db8::1"],
)
def test_special_addresses_are_blocked(ip: str) -> None:
    with pytest.raises(BlockedAddressError):
        STRICT.check_ip(ip)


@pytest.mark.parametrize("ip", ["8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"])
def test_public_addresses_are_allowed(ip: str) -> None:
    STRICT.check_ip(ip)


def test_resolve_checks_every_address() -> None:
    policy = AddressPolicy(resolver=lambda host, port: ["8.8.8.8", "10.0.0.1"])
    with pytest.raises(BlockedAddressError):
        policy.resolve("mixed.example", 80)


# --- check_url ----------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1/", "http://localhost/x", "http://[::1]:8080/", "http://10.0.0.1/",
     "http://169.254.169.254/latest/meta-data/", "https://[::ffff:7f00:1]/", "http://[2002:7f00:1::]/",
     "http://[fec0::1]/"],
)
def test_check_url_blocks_private_targets(url: str) -> None:
    with pytest.raises(BlockedAddressError):
        check_url(url, STRICT)


@pytest.mark.parametrize(
    "url",
    ["ftp://8.8.8.8/file", "file:///etc/passwd", "gopher://8.8.8.8/", "http:///nohost",
     "http://8.8.8.8:99999/", "http://user:pw@8.8.8.8/", "http://8.8.8.8@127.0.0.1/"],
)
def test_check_url_rejects_malformed_urls(url: str) -> None:
    with pytest.raises(FetchError) as info:
        check_url(url, OPEN)
    assert not isinstance(info.value, BlockedAddressError)


def test_check_url_reports_unresolvable_host() -> None:
    def failing(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(FetchError, match="resolve"):
        check_url("https://nowhere.example/a.mp4", AddressPolicy(resolver=failing))


# --- download -----------------------------------------------------------------


def test_download_success(server: _Server, dest: Path) -> None:
    result = download(server.url("/video"), dest, OPEN, max_bytes=10**6)
    assert dest.read_bytes() == VIDEO
    assert result.size == len(VIDEO)
    assert result.content_type == "video/mp4"
    assert result.final_url == server.url("/video")


def test_download_follows_redirects(server: _Server, dest: Path) -> None:
    result = download(server.url("/redirect?to=/video"), dest, OPEN, max_bytes=10**6)
    assert result.final_url == server.url("/video")
    assert dest.read_bytes() == VIDEO


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
def test_download_blocks_loopback_without_connecting(server: _Server, dest: Path, host: str) -> None:
    before = len(server.requests)
    with pytest.raises(BlockedAddressError):
        download(server.url("/video", host), dest, STRICT, max_bytes=10**6)
    assert len(server.requests) == before
    assert not dest.exists()


@pytest.mark.parametrize("url", ["http://10.0.0.1/a.mp4", "http://169.254.169.254/latest/meta-data/"])
def test_download_blocks_private_literals(dest: Path, url: str) -> None:
    with pytest.raises(BlockedAddressError):
        download(url, dest, STRICT, max_bytes=10**6, connect_timeout=0.5)


def test_allowed_network_does_not_cover_redirect_elsewhere(server: _Server, dest: Path) -> None:
    policy = AddressPolicy(allowed_networks=(ip_network("127.0.0.1/32"),))
    assert download(server.url("/video"), dest, policy, max_bytes=10**6).size == len(VIDEO)
    elsewhere = server.url("/video", "127.0.0.2")
    with pytest.raises(BlockedAddressError):
        download(server.url(f"/redirect?to={elsewhere}"), dest, policy, max_bytes=10**6)
    assert not dest.exists()


def test_resolver_decides_where_the_connection_goes(server: _Server, dest: Path) -> None:
    def fake_dns(host: str, port: int) -> list[str]:
        if host == "media.example":
            return ["127.0.0.1"]
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    url = server.url("/video", "media.example")
    with pytest.raises(BlockedAddressError):
        download(url, dest, AddressPolicy(resolver=fake_dns), max_bytes=10**6)
    result = download(url, dest, AddressPolicy(allow_private=True, resolver=fake_dns), max_bytes=10**6)
    assert dest.read_bytes() == VIDEO
    assert result.final_url == url
    assert server.requests[-1] == ("/video", f"media.example:{server.port}")


@pytest.mark.parametrize("url", ["ftp://example.com/a.mp4", "file:///etc/passwd"])
def test_download_rejects_other_schemes(dest: Path, url: str) -> None:
    with pytest.raises(FetchError, match="http"):
        download(url, dest, OPEN, max_bytes=10**6)


def test_download_reports_unresolvable_host(dest: Path) -> None:
    def failing(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(FetchError, match="resolve"):
        download("http://nowhere.example/a.mp4", dest, AddressPolicy(resolver=failing), max_bytes=10**6)


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/missing", "HTTP 404"),
        ("/html", "HTML page"),
        ("/empty", "empty"),
        ("/declared-huge", "larger"),
        ("/endless", "larger"),
        ("/truncated", "closed the connection"),
        ("/loop", "redirected more than 5 times"),
    ],
)
def test_download_failures_leave_nothing_behind(server: _Server, dest: Path, path: str, reason: str) -> None:
    dest.write_bytes(b"stale")
    with pytest.raises(FetchError, match=reason):
        download(server.url(path), dest, OPEN, max_bytes=10**6)
    assert not dest.exists()


def test_download_gives_up_on_stalled_body(server: _Server, dest: Path) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError, match="timed out reading from 127.0.0.1"):
        download(server.url("/stall"), dest, OPEN, max_bytes=10**6, read_timeout=0.5)
    assert time.monotonic() - started < 1.5
    assert not dest.exists()


def test_download_reports_refused_connection(dest: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connection refused
        with pytest.raises(FetchError, match="could not connect to 127.0.0.1"):
            download(f"http://127.0.0.1:{port}/", dest, OPEN, max_bytes=10**6)


# --- post ---------------------------------------------------------------------


def test_post_returns_status_headers_and_excerpt(server: _Server) -> None:
    result = post(server.url("/hook"), b'{"event":"x"}', {"X-Signature": "abc"}, OPEN)
    assert result.status == 201
    assert result.headers["x-receiver"] == "yes"
    assert json.loads(result.body_excerpt) == {"body": '{"event":"x"}', "signature": "abc"}
    assert result.elapsed_ms > 0


def test_post_does_not_follow_redirects(server: _Server) -> None:
    before = len(server.requests)
    result = post(server.url("/moved"), b"{}", {}, OPEN)
    assert result.status == 302
    assert result.headers["location"] == "/hook"
    assert server.requests[before:] == [("/moved", f"127.0.0.1:{server.port}")]


def test_post_truncates_large_response(server: _Server) -> None:
    result = post(server.url("/huge"), b"{}", {}, OPEN, max_response_bytes=100)
    assert result.body_excerpt == "a" * 100


def test_post_blocks_private_targets(server: _Server) -> None:
    with pytest.raises(BlockedAddressError):
        post(server.url("/hook"), b"{}", {}, STRICT)


@pytest.mark.parametrize("path", ["/trickle-body", "/trickle-headers"])
def test_post_deadline_cuts_off_trickling_server(server: _Server, path: str) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError, match="timed out"):
        post(server.url(path), b"{}", {}, OPEN, timeout=1)
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize("ip", ["10.1.2.3", "::ffff:10.1.2.3", "64:ff9b::a01:203", "2002:a01:203::1"])
def test_allowed_networks_hold_however_their_addresses_are_wrapped(ip: str) -> None:
    AddressPolicy(allowed_networks=(ip_network("10.0.0.0/8"),)).check_ip(ip)
