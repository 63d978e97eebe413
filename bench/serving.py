"""Serving benchmark: HLS segments and the media API under parallel clients, with wrk.

Run:  .venv/bin/python bench/serving.py     (needs wrk: apt-get install wrk)

It ingests a 60 s 720p clip into a reelhouse server started as a real `reelhouse serve` process,
then drives it with wrk from a second process on loopback:
  * one ~1.5 MB video segment, many connections (from page cache): MB/s;
  * the capped-4k.mp4 download of the same clip, likewise;
  * GET /v1/on-demand/{id} (auth, database read, JSON): requests/s and p99 latency.
As a baseline in the same run, wrk fetches the same segment file from Python's own static file
server, the simplest thing a person would put in front of the files. Then the server is restarted as
`serve --processes 2` and the segment and GET media runs are repeated.
"""

from __future__ import annotations

import base64
import functools
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from reelhouse.media.ffmpeg import find_ffmpeg
from reelhouse.settings import Settings
from reelhouse.testing import free_port, make_token

DURATION = "10s"


def wrk(url: str, connections: int, headers: dict[str, str] | None = None) -> dict[str, float]:
    """Requests/s, MB/s and p99 latency (ms) as wrk reports them."""
    args = ["wrk", "-t2", f"-c{connections}", f"-d{DURATION}", "--latency", url]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    transfer = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out)
    scale = {"B": 1e-6, "KB": 1e-3, "MB": 1, "GB": 1e3}[transfer.group(2)]
    p99 = re.search(r"99%\s+([\d.]+)(\w+)", out)
    p99_ms = float(p99.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[p99.group(2)]
    return {"rps": rps, "mb_s": float(transfer.group(1)) * scale, "p99_ms": p99_ms}


def serve(settings: Settings, auth: tuple[str, str], *, processes: int) -> subprocess.Popen[bytes]:
    """`reelhouse serve` as its own process(es), once it answers."""
    env = {**os.environ, "REELHOUSE_DATA_DIR": str(settings.data_dir), "REELHOUSE_PORT": str(settings.port),
           "REELHOUSE_PROCESSES": str(processes)}
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
    server.terminate()
    server.wait(15)


def main() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = folder / "clip.mp4"
        subprocess.run([find_ffmpeg(), "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30:duration=60",
                        "-c:v", "libx264", "-preset", "veryfast", "-g", "60", "-b:v", "3M", str(source)], check=True)
        settings = Settings(data_dir=folder / "data", port=free_port())
        auth = make_token(settings)
        base = f"http://127.0.0.1:{settings.port}"
        server = serve(settings, auth, processes=1)
        static = None
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
            rendition = master.splitlines()[-1]
            segment_path = rendition.rsplit("/", 1)[0] + "/seg_00001.m4s"
            segment_url = f"{base}/stream/{segment_path}"
            size = len(httpx.get(segment_url).content)
            mp4_size = len(httpx.get(f"{base}/stream/{playback_id}/capped-4k.mp4").content)

            files = settings.data_dir / "objects" / "media" / media["id"] / "hls"
            handler = functools.partial(SimpleHTTPRequestHandler, directory=str(files))
            handler.log_message = lambda *a: None  # type: ignore[method-assign]
            static = ThreadingHTTPServer(("127.0.0.1", 0), handler)
            threading.Thread(target=static.serve_forever, daemon=True).start()
            static_url = f"http://127.0.0.1:{static.server_address[1]}/{segment_path.split('/', 1)[1]}"

            basic = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            media_url = f"{base}/v1/on-demand/{media['id']}"
            results = {
                "segment, reelhouse": wrk(segment_url, 16),
                "segment, python http.server": wrk(static_url, 16),
                f"capped-4k.mp4 ({mp4_size / 1e6:.0f} MB), reelhouse": wrk(f"{base}/stream/{playback_id}/capped-4k.mp4", 16),
                "GET media, reelhouse": wrk(media_url, 16, {"Authorization": basic}),
            }
            stop(server)
            server = serve(settings, auth, processes=2)
            results["segment, serve --processes 2"] = wrk(segment_url, 16)
            results["GET media, serve --processes 2"] = wrk(media_url, 16, {"Authorization": basic})
            results["GET media, --processes 2, 4 conns"] = wrk(media_url, 4, {"Authorization": basic})
        finally:
            stop(server)
            if static is not None:
                static.shutdown()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; wrk -t2 -c16 (unless said) -d{DURATION}; "
          f"segment {size / 1e6:.2f} MB")
    print(f"{'what':<34} {'req/s':>9} {'MB/s':>9} {'p99 ms':>8}")
    for name, r in results.items():
        print(f"{name:<34} {r['rps']:>9.0f} {r['mb_s']:>9.1f} {r['p99_ms']:>8.1f}")


if __name__ == "__main__":
    main()
