"""Thumbnail benchmark: the first and the cached thumbnail at t=1800 s of a 1-hour source.

Run:  .venv/bin/python bench/thumbnails.py

It makes a 1-hour 256x144 H.264/AAC MP4 cheaply (a 60 s clip encoded once, repeated by stream copy), uploads
it to a real `reelhouse serve` process through a signed URL, waits until it is Ready and no ffmpeg of the server runs,
then times `GET /images/{playbackId}/thumbnail.jpg?time=1800` three ways: the first request (ffmpeg renders
it, seeking by the MP4's index in the original where it lies), the same URL again (a stored file), and, as the
baseline in the same run, the bundled ffmpeg rendering that frame by hand from the same file. Each at several
distinct times near 1800 s, so every first request is a real first request.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from reelhouse.media.ffmpeg import find_ffmpeg
from reelhouse.settings import Settings
from reelhouse.testing import free_port, make_token

sys.path.insert(0, str(Path(__file__).parent))
from serving import _children, serve, stop  # noqa: E402

TIMES = [1800.0 + i * 7.3 for i in range(5)]


def long_source(folder: Path) -> Path:
    """One hour, by repeating a 60 s clip (a keyframe every 2 s) 60 times without re-encoding."""
    ffmpeg = find_ffmpeg()
    clip = folder / "minute.mp4"
    subprocess.run([ffmpeg, "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=256x144:rate=25:duration=60",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=60",
                    "-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-c:a", "aac", "-b:a", "64k", str(clip)],
                   check=True)
    listing = folder / "list.txt"
    listing.write_text("".join(f"file '{clip}'\n" for _ in range(60)))
    source = folder / "hour.mp4"
    subprocess.run([ffmpeg, "-loglevel", "error", "-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy",
                    "-movflags", "+faststart", str(source)], check=True)
    return source


def encoding(pid: int) -> bool:
    try:
        return b"ffmpeg" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = long_source(folder)
        source_bytes = source.stat().st_size
        settings = Settings(data_dir=folder / "data", port=free_port())
        auth = make_token(settings)
        base = f"http://127.0.0.1:{settings.port}"
        server = serve(settings, auth, processes=1)
        try:
            with httpx.Client(base_url=f"{base}/v1", auth=auth, timeout=60) as api:
                upload = api.post("/on-demand/upload", json={"corsOrigin": "*", "pushMediaSettings": {
                    "accessPolicy": "public"}}).json()["data"]
                with source.open("rb") as body:
                    httpx.put(upload["url"], content=body, timeout=600).raise_for_status()
                while (media := api.get(f"/on-demand/{upload['uploadId']}").json()["data"])["status"] != "Ready":
                    time.sleep(0.2)
            pid = media["playbackIds"][0]["id"]
            quiet = 0
            while quiet < 5:  # the ladder encodes the hour meanwhile: wait until no ffmpeg has run for 5 s
                quiet = 0 if any(encoding(child) for child in _children(server.pid)) else quiet + 1
                time.sleep(1)
            first, cached, by_hand = [], [], []
            for at in TIMES:
                url = f"{base}/images/{pid}/thumbnail.jpg?time={at}"
                for timings in (first, cached):
                    started = time.perf_counter()
                    response = httpx.get(url, timeout=60)
                    timings.append((time.perf_counter() - started) * 1000)
                    response.raise_for_status()
                started = time.perf_counter()
                subprocess.run([find_ffmpeg(), "-loglevel", "error", "-y", "-ss", f"{at:.3f}", "-i", str(source),
                                "-frames:v", "1", "-c:v", "mjpeg", "-q:v", "3", str(folder / "hand.jpg")], check=True)
                by_hand.append((time.perf_counter() - started) * 1000)
        finally:
            stop(server)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; 1-hour 256x144 source "
          f"({source_bytes / 1e6:.0f} MB), thumbnails at {TIMES[0]:.0f}-{TIMES[-1]:.0f} s")
    for name, timings in (("first request", first), ("cached request", cached), ("ffmpeg by hand", by_hand)):
        print(f"{name:<16} median {statistics.median(timings):7.1f} ms   all: "
              + " ".join(f"{t:.0f}" for t in timings))


if __name__ == "__main__":
    main()
