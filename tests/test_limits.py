"""Request bodies are capped before they are read or authenticated: a stranger cannot make the server hold a body
of any size in memory (issue 12, finding 2)."""

from __future__ import annotations

import json
import re
import select
import socket
from pathlib import Path

import httpx

from reelhouse.settings import MiB
from tests.conftest import Server

CHUNK = b"x" * (64 * 1024)


def peak_rss_kib() -> int:
    """This process's peak resident set since `reset_peak_rss` (the server under test runs in it)."""
    return int(re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text()).group(1))


def reset_peak_rss() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def post_raw(server: Server, path: str, *, declared: int | None, send_bytes: int) -> tuple[int, dict]:
    """POSTs without credentials, sending up to `send_bytes` of body (chunked when nothing is declared) and stopping as
    soon as the server answers; returns the status and the JSON body of the answer."""
    host, port = server.url.removeprefix("http://").split(":")
    framing = f"Content-Length: {declared}" if declared is not None else "Transfer-Encoding: chunked"
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n{framing}\r\n\r\n"
                     .encode())
        sent = 0
        try:
            while sent < send_bytes and not select.select([sock], [], [], 0)[0]:
                piece = CHUNK if declared is not None else b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK)
                sock.sendall(piece)
                sent += len(CHUNK)
            if declared is None and not select.select([sock], [], [], 0)[0]:
                sock.sendall(b"0\r\n\r\n")  # the whole body was sent unanswered: end it
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) < _length(answer):
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    head, body = answer.split(b"\r\n\r\n", 1)
    return int(head.split()[1]), json.loads(body[: _length(answer)])


def _length(answer: bytes) -> int:
    match = re.search(rb"content-length: (\d+)", answer, re.IGNORECASE)
    return int(match.group(1)) if match else 1 << 30


def test_a_declared_oversized_body_is_refused_unread_before_authentication(server: Server) -> None:
    status, body = post_raw(server, "/v1/on-demand", declared=1 << 30, send_bytes=0)

    assert status == 413
    assert body["success"] is False and body["error"]["code"] == 413
    assert str(MiB) in body["error"]["description"]


def test_a_streamed_body_is_cut_off_at_the_limit_and_memory_stays_flat(server: Server) -> None:
    reset_peak_rss()
    before = peak_rss_kib()

    status, body = post_raw(server, "/v1/on-demand", declared=None, send_bytes=64 * MiB)

    grown_mib = (peak_rss_kib() - before) / 1024
    assert (status, body["error"]["code"]) == (413, 413)
    assert grown_mib < 16, f"the server's memory grew by {grown_mib:.0f} MiB for a body it refuses"


def test_authenticated_bodies_have_the_same_limit(api: httpx.Client) -> None:
    small = api.post("/on-demand", json={"inputs": [{"type": "video", "url": "http://127.0.0.1:9/a.mp4"}],
                                         "accessPolicy": "public", "metadata": {"k": "v"}})
    big = api.post("/on-demand", json={"inputs": [{"type": "video", "url": "http://127.0.0.1:9/a.mp4"}],
                                       "accessPolicy": "public", "metadata": {"k": "v" * MiB}})

    assert small.status_code == 201, small.text
    assert big.status_code == 413
    assert big.json()["error"]["message"] == "Payload too large"
