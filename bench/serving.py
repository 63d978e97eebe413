"""Serving benchmark: HLS segments and MP4 downloads against nginx on the same files, with wrk.

Run:  .venv/bin/python bench/serving.py [GB]    (needs wrk and nginx: apt-get install -y wrk nginx)

It ingests a 60 s 720p clip into a reelhouse server started as a real `reelhouse serve` process,
then drives it with wrk from a second process on loopback, side by side with nginx (one worker,
sendfile on, started here with a temporary configuration) serving the very same files from the data
directory, in interleaved rounds:
  * one ~1.4 MB video segment, 16 connections (from page cache): MB/s, and the ratio to nginx;
  * the capped-4k.mp4 download of the same clip, likewise;
  * the segment at 1,000 connections, with the server's resident memory sampled throughout;
  * GET /v1/on-demand/{id} (auth, database read, JSON): requests/s and p99 latency;
  * at the end, the server's memory while a GB-sized upload (2 GB unless given; generated, nothing on the client's
    disk) arrives through the resumable protocol and is ingested.
A third contender in the same rounds: reelhouse behind nginx as deploy/nginx.conf sets it up (a second `serve` on
the same data with REELHOUSE_ACCEL_REDIRECT; reelhouse checks access and names the file, nginx sends it). Every
reelhouse request is checked against the playback ID's rules, as in production; nginx alone checks nothing. For
each reelhouse contender it also prints the CPU its serving process spent per request, which a faster host hides
less than the ratios. Then the server is restarted as `serve --processes 2` and the segment and GET media runs
are repeated.
"""

from __future__ import annotations

import base64
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from api import cpu_seconds  # bench/, beside this script

from reelhouse.media.ffmpeg import find_ffmpeg
from reelhouse.settings import Settings
from reelhouse.testing import free_port, make_token, nginx, nginx_front

DURATION = "10s"
ROUNDS = 2  # reelhouse and nginx alternate, so a noisy neighbour hurts both alike
FINAL = ("Ready", "Failed")
UPLOAD_BYTES = int(float(sys.argv[1] if len(sys.argv) > 1 else 2) * 1e9)  # `bench/serving.py 20` sends 20 GB

STATIC = """
    server {{
        listen 127.0.0.1:{port};
        root {root};
        sendfile on;
        tcp_nopush on;
    }}
"""


def wrk(url: str, connections: int, headers: dict[str, str] | None = None, *, pid: int | None = None
        ) -> dict[str, float]:
    """Requests/s, MB/s and p99 latency (ms) as wrk reports them; waits up to 30 s for an answer, since 1,000
    connections sharing one loopback wait their turn for seconds. With `pid`, also the CPU that process (and those
    it started) spent per request, in µs: what a faster host does not hide."""
    cpu_before = cpu_seconds(pid) if pid else 0.0
    args = ["wrk", "-t2", f"-c{connections}", f"-d{DURATION}", "--timeout", "30s", "--latency", url]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    transfer = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out)
    scale = {"B": 1e-6, "KB": 1e-3, "MB": 1, "GB": 1e3}[transfer.group(2)]
    p99 = re.search(r"99%\s+([\d.]+)(\w+)", out)
    p99_ms = float(p99.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"{url} answered {errors.group(1)} errors:\n{out}")
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    cpu_us = (cpu_seconds(pid) - cpu_before) / requests * 1e6 if pid else math.nan
    return {"rps": rps, "mb_s": float(transfer.group(1)) * scale, "p99_ms": p99_ms, "cpu_us": cpu_us}


def serve(settings: Settings, auth: tuple[str, str], *, processes: int, **more: str) -> subprocess.Popen[bytes]:
    """`reelhouse serve` as its own process(es), once it answers; `more` are further REELHOUSE_* variables."""
    env = {**os.environ, "REELHOUSE_DATA_DIR": str(settings.data_dir), "REELHOUSE_PORT": str(settings.port),
           "REELHOUSE_PROCESSES": str(processes), **{f"REELHOUSE_{k.upper()}": v for k, v in more.items()}}
    server = subprocess.Popen([sys.executable, "-m", "reelhouse", "serve"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(400):
        try:
            httpx.get(f"http://127.0.0.1:{settings.port}/v1/on-demand", auth=auth).raise_for_status()
            return server
        except httpx.HTTPError:
            time.sleep(0.05)
    stop(server)
    raise SystemExit("reelhouse serve did not start")


def stop(server: subprocess.Popen[bytes]) -> None:
    """Asks it to stop; kills it when a running encode keeps it past a minute."""
    server.terminate()
    try:
        server.wait(60)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(15)


def rss_mb(pid: int) -> float:
    """The process's resident memory and its children's (the workers of `serve --processes N`), in MB."""
    total = 0.0
    for each in [pid, *_children(pid)]:
        try:
            status = Path(f"/proc/{each}/status").read_text()
        except OSError:
            continue
        total += int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024
    return total


def _children(pid: int) -> list[int]:
    try:
        found = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
    return [grand for child in found for grand in [child, *_children(child)]]


class Memory:
    """The resident memory (MB) of a process before a piece of work and at its peak during it, sampled every 50 ms."""

    def __init__(self, pid: int) -> None:
        self.pid, self.before, self.peak = pid, rss_mb(pid), 0.0

    @contextmanager
    def watched(self) -> Iterator[None]:
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.05):
                self.peak = max(self.peak, rss_mb(self.pid))

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            yield
        finally:
            done.set()
            sampler.join()


def wrk_with_rss(pid: int, url: str, connections: int) -> tuple[dict[str, float], float, float]:
    """A wrk run, with the server's resident memory before it and at its peak during it."""
    memory = Memory(pid)
    with memory.watched():
        result = wrk(url, connections)
    return result, memory.before, memory.peak


def padded_upload(api: httpx.Client, clip: Path, total: int, pid: int) -> tuple[float, float, float]:
    """Uploads `clip` grown to `total` bytes by a trailing MP4 `free` box (players and ffmpeg skip it, so the media
    still ingests) through the resumable protocol, 256 MiB a request, generated on the fly; returns the server's
    resident memory in MB before, at its peak while the bytes arrive and are joined into the original, and once the
    media is Ready."""
    head = clip.read_bytes()
    padding = total - len(head) - 16
    box = (1).to_bytes(4, "big") + b"free" + (padding + 16).to_bytes(8, "big")  # a box with a 64-bit size
    block = bytes(1024 * 1024)

    def body(start: int, end: int) -> Iterator[bytes]:
        """Bytes [start, end) of head + box + zeros, without holding them."""
        prefix = head + box
        if start < len(prefix):
            yield prefix[start:min(end, len(prefix))]
            start = len(prefix)
        while start < end:
            piece = min(len(block), end - start)
            yield block[:piece] if piece < len(block) else block
            start += piece

    memory = Memory(pid)
    with memory.watched():
        upload = api.post("/on-demand/upload", json={"corsOrigin": "*", "pushMediaSettings": {
            "accessPolicy": "public"}}).json()["data"]
        step = 256 * 1024 * 1024
        for start in range(0, total, step):
            end = min(total, start + step)
            answer = httpx.put(upload["url"], content=body(start, end), timeout=600,
                               headers={"Content-Range": f"bytes {start}-{end - 1}/{total}"})
            assert answer.status_code in (200, 308), answer.text
        while (media := api.get(f"/on-demand/{upload['uploadId']}").json()["data"])["status"] not in FINAL:
            time.sleep(0.2)
        assert media["status"] == "Ready", media
    return memory.before, memory.peak, rss_mb(pid)


def main() -> None:
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed: apt-get install -y wrk nginx")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = folder / "clip.mp4"
        subprocess.run([find_ffmpeg(), "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30:duration=60",
                        "-c:v", "libx264", "-preset", "veryfast", "-g", "60", "-b:v", "3M", str(source)], check=True)
        settings = Settings(data_dir=folder / "data", port=free_port())
        auth = make_token(settings)
        base = f"http://127.0.0.1:{settings.port}"
        server = serve(settings, auth, processes=1)
        try:
            with httpx.Client(base_url=f"{base}/v1", auth=auth, timeout=60) as api:
                upload = api.post("/on-demand/upload", json={"corsOrigin": "*", "pushMediaSettings": {
                    "accessPolicy": "public", "mp4Support": "capped_4k"}}).json()["data"]
                httpx.put(upload["url"], content=source.read_bytes(), timeout=60).raise_for_status()
                while (media := api.get(f"/on-demand/{upload['uploadId']}").json()["data"])["status"] != "Ready" or \
                        media["mp4Support"][0]["status"] != "ready":
                    time.sleep(0.1)
            playback_id = media["playbackIds"][0]["id"]
            while (master := httpx.get(f"{base}/stream/{playback_id}.m3u8").text).count("#EXT-X-STREAM-INF") < 3:
                time.sleep(0.5)  # the ladder is still encoding: measuring now would measure x264 too
            rendition = master.splitlines()[-1].rsplit("/", 2)[1]
            segment_url = f"{base}/stream/{playback_id}/{rendition}/seg_00001.m4s"
            mp4_url = f"{base}/stream/{playback_id}/capped-4k.mp4"
            size = len(httpx.get(segment_url).content)
            mp4_size = len(httpx.get(mp4_url).content)

            # The same data served a second time, behind nginx: another `serve` (no workers) handing files to it.
            behind = settings.model_copy(update={"port": free_port()})
            accel_server = serve(behind, auth, processes=1, workers="0", accel_redirect="/_objects/")
            static_port, front_port = free_port(), free_port()
            (folder / "nginx").mkdir()
            servers = STATIC.format(port=static_port, root=settings.objects_dir) + nginx_front(behind, front_port)
            try:
                with nginx(servers, folder / "nginx", static_port):
                    static, front = f"http://127.0.0.1:{static_port}", f"http://127.0.0.1:{front_port}"
                    files = f"{static}/media/{media['id']}"
                    static_segment = f"{files}/hls/{rendition}/seg_00001.m4s"
                    static_mp4 = f"{files}/downloads/capped-4k.mp4"
                    contenders = {
                        "segment": {"reelhouse": segment_url, "behind nginx": segment_url.replace(base, front),
                                    "nginx": static_segment},
                        "mp4": {"reelhouse": mp4_url, "behind nginx": mp4_url.replace(base, front), "nginx": static_mp4},
                    }
                    for urls in contenders.values():
                        for url in urls.values():
                            if httpx.get(url).content != httpx.get(urls["reelhouse"]).content:
                                raise SystemExit(f"{url} does not serve the same bytes as {urls['reelhouse']}")
                    runs: dict[tuple[str, str], list[dict[str, float]]] = {}
                    pids = {"reelhouse": server.pid, "behind nginx": accel_server.pid, "nginx": None}
                    for _ in range(ROUNDS):
                        for what, urls in contenders.items():
                            for who, url in urls.items():
                                runs.setdefault((what, who), []).append(wrk(url, 16, pid=pids[who]))
                    crowd, rss_before, rss_peak = wrk_with_rss(server.pid, segment_url, 1000)
                    crowd_nginx = wrk(static_segment, 1000)
            finally:
                stop(accel_server)

            basic = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            media_url = f"{base}/v1/on-demand/{media['id']}"
            results = {
                "GET media, reelhouse": wrk(media_url, 16, {"Authorization": basic}),
            }
            stop(server)
            server = serve(settings, auth, processes=2)
            results["segment, serve --processes 2"] = wrk(segment_url, 16)
            results["GET media, serve --processes 2"] = wrk(media_url, 16, {"Authorization": basic})
            results["GET media, --processes 2, 4 conns"] = wrk(media_url, 4, {"Authorization": basic})
            with httpx.Client(base_url=f"{base}/v1", auth=auth, timeout=60) as api:
                upload_rss = padded_upload(api, source, UPLOAD_BYTES, server.pid)
        finally:
            stop(server)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; wrk -t2 -c16 (unless said) -d{DURATION}; "
          f"segment {size / 1e6:.2f} MB, capped-4k.mp4 {mp4_size / 1e6:.1f} MB; {ROUNDS} interleaved rounds")
    print(f"{'what':<34} {'req/s':>9} {'MB/s':>9} {'p99 ms':>8} {'reelhouse CPU µs/request':>25}")
    for what, urls in contenders.items():
        for who in urls:
            for r in runs[(what, who)]:
                cpu = "" if math.isnan(r["cpu_us"]) else f"{r['cpu_us']:.0f}"
                print(f"{f'{what}, {who}':<34} {r['rps']:>9.0f} {r['mb_s']:>9.1f} {r['p99_ms']:>8.1f} {cpu:>25}")
        nginx_alone = statistics.median(r["mb_s"] for r in runs[(what, "nginx")])
        for who in ("reelhouse", "behind nginx"):
            ratio = statistics.median(r["mb_s"] for r in runs[(what, who)]) / nginx_alone
            print(f"{what}: {who} / nginx = {ratio:.2f} (median MB/s)")
    print(f"{'segment, 1000 conns, reelhouse':<34} {crowd['rps']:>9.0f} {crowd['mb_s']:>9.1f} {crowd['p99_ms']:>8.1f}"
          f"   RSS {rss_before:.0f} MB before, {rss_peak:.0f} MB peak")
    print(f"{'segment, 1000 conns, nginx':<34} {crowd_nginx['rps']:>9.0f} {crowd_nginx['mb_s']:>9.1f} "
          f"{crowd_nginx['p99_ms']:>8.1f}")
    for name, r in results.items():
        print(f"{name:<34} {r['rps']:>9.0f} {r['mb_s']:>9.1f} {r['p99_ms']:>8.1f}")
    print(f"resumable upload of {UPLOAD_BYTES / 1e9:.1f} GB to `serve --processes 2` until Ready: RSS (all processes) "
          "{:.0f} MB before, {:.0f} MB peak, {:.0f} MB after".format(*upload_rss))


if __name__ == "__main__":
    main()
