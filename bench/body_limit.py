"""Memory of a real `reelhouse serve` under a 1 GiB unauthenticated request body (issue 12, finding 2).

Run:  .venv/bin/python bench/body_limit.py [--gib 1]

Starts `reelhouse serve` on a fresh data dir, reads its resident set (VmRSS) when idle, then POSTs `--gib` GiB to
/v1/on-demand without credentials twice: once with the size declared in Content-Length, once chunked (the whole body
is offered; the client stops when the server answers). Prints each answer's status, the bytes the client got to
send, and the server's peak resident set (VmHWM) afterwards. Linux only (/proc).
"""

from __future__ import annotations

import argparse
import re
import select
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reelhouse.testing import free_port

CHUNK = b"{" * (256 * 1024)


def memory(pid: int) -> dict[str, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    return {k: int(re.search(rf"{k}:\s+(\d+)", status).group(1)) / 1024 for k in ("VmRSS", "VmHWM")}


def offer(port: int, size: int, *, chunked: bool) -> tuple[int, int]:
    """(status, bytes sent) for a POST of `size` bytes that stops as soon as the server answers."""
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(f"POST /v1/on-demand HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{framing}\r\n\r\n"
                     .encode())
        try:
            while sent < size and not select.select([sock], [], [], 0)[0]:
                sock.sendall(b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK) if chunked else CHUNK)
                sent += len(CHUNK)
            if chunked and not select.select([sock], [], [], 0)[0]:
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = sock.recv(4096)
    return int(answer.split()[1]), sent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gib", type=float, default=1.0)
    size = int(parser.parse_args().gib * 1024**3)
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        server = subprocess.Popen([sys.executable, "-m", "reelhouse", "serve", "--port", str(port), "--data-dir", data],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            time.sleep(1)
            print(f"idle: RSS {memory(server.pid)['VmRSS']:.0f} MiB")
            for chunked in (False, True):
                status, sent = offer(port, size, chunked=chunked)
                mem = memory(server.pid)
                print(f"{'chunked' if chunked else 'Content-Length'} {size / 1024**3:g} GiB: {status} after "
                      f"{sent / 1024**2:.1f} MiB sent; server RSS {mem['VmRSS']:.0f} MiB, peak {mem['VmHWM']:.0f} MiB")
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
