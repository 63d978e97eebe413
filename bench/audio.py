"""optimizeAudio benchmark: upload complete → Ready through the official SDK's defaults, and → normalised audio.

Run:  .venv/bin/python bench/audio.py [--seconds 60] [--rounds 3]

The official FastPix SDK (`fastpix_python`) sends `optimizeAudio: true` on direct uploads unless told otherwise.
For a 60 s 720p H.264/AAC file it creates a direct upload with the SDK's defaults, PUTs the file and measures, from
the moment the PUT is acknowledged:
  * ready: until the media is Ready (its first renditions' rows are written in the transaction that makes it so);
  * normalised: until the loudness-normalised audio rendition is published in the master playlist.
Interleaved with it, the same upload with `optimizeAudio: false`, and the hand-written ffmpeg baselines:
  * the stream copy into HLS (what Ready needs);
  * the same with single-pass `loudnorm` on the audio (what the playable step did before normalisation moved off
    the path to Ready).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from fastpix_python import Fastpix, models
from sqlalchemy import select

from reelhouse.db.enums import JobStatus
from reelhouse.db.models import Job, Media, utcnow
from reelhouse.media import hls
from reelhouse.media.ffmpeg import find_ffmpeg
from reelhouse.settings import Settings
from reelhouse.testing import Server, free_port, make_token, start_server

FFMPEG = find_ffmpeg()
HLS = "-f hls -hls_time 4 -hls_playlist_type vod -hls_segment_type fmp4 -hls_fmp4_init_filename init.mp4"


def sh(command: str) -> float:
    start = time.perf_counter()
    subprocess.run(command, shell=True, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def by_hand(source: Path, out: Path, *, loudnorm: bool) -> float:
    for name in ("v", "a"):
        (out / name).mkdir(parents=True, exist_ok=True)
    audio = "-c:a aac -b:a 128k -ac 2 -af loudnorm=I=-16:TP=-1.5:LRA=11" if loudnorm else "-c:a copy"
    return sh(f"{FFMPEG} -y -i {source} -map 0:v:0 -c:v copy {HLS} -hls_segment_filename {out}/v/seg_%05d.m4s "
              f"{out}/v/index.m3u8 -map 0:a:0 {audio} {HLS} -hls_segment_filename {out}/a/seg_%05d.m4s "
              f"{out}/a/index.m3u8")


def through_sdk(server: Server, fp: Fastpix, source: Path, *, optimize_audio: bool | None) -> tuple[float, float | None]:
    """(PUT done → Ready, PUT done → normalised audio published, or None when not asked for)."""
    settings = {"access_policy": "public"}
    if optimize_audio is not None:
        settings["optimize_audio"] = optimize_audio
    upload = fp.input_video.direct_upload_video_media(request={"cors_origin": "*",
                                                               "push_media_settings": settings}).data
    with source.open("rb") as body:
        httpx.put(upload.url, content=body, timeout=600).raise_for_status()
    done = utcnow()
    media_id = fp.manage_videos.get_media(media_id=upload.upload_id).data.id

    def renditions() -> list[tuple[str, bool, object]]:
        with server.runtime.db.read() as session:
            media = session.get(Media, media_id)
            return [(r.name, r.replaced, r.created_at) for r in media.renditions] if media else []

    normalising = optimize_audio is None or optimize_audio
    wanted = hls.NORMALISED_AUDIO_FOLDER if normalising else "v"
    deadline = time.monotonic() + 600
    while not any(name.startswith(wanted) for name, _, _ in renditions()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"media {media_id} never got {wanted}")
        time.sleep(0.2)
    rows = renditions()
    with server.runtime.db.read() as session:
        assert session.scalar(select(Media.status).where(Media.id == media_id)) == "Ready"
    ready = min(created for name, _, created in rows)
    normalised = next((c for name, _, c in rows if name == hls.NORMALISED_AUDIO_FOLDER), None)
    return (ready - done).total_seconds(), (normalised - done).total_seconds() if normalised else None


def wait_idle(server: Server) -> None:
    """Until every job (the ladder too) has finished, so the next upload is timed on an idle machine."""
    busy = Job.status.in_([JobStatus.QUEUED, JobStatus.RUNNING])
    while True:
        with server.runtime.db.read() as session:
            if session.scalar(select(Job.id).where(busy).limit(1)) is None:
                return
        time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = folder / "h264_aac_720p.mp4"
        sh(f"{FFMPEG} -y -f lavfi -i testsrc2=size=1280x720:rate=30:duration={args.seconds} "
           f"-f lavfi -i sine=frequency=440:sample_rate=48000:duration={args.seconds} "
           f"-c:v libx264 -preset faster -g 60 -b:v 3M -c:a aac -b:a 128k -movflags +faststart {source}")
        settings = Settings(data_dir=folder / "data", port=free_port(), workers=2)
        token, secret = make_token(settings)
        server = start_server(settings)
        results: dict[str, list[float]] = {k: [] for k in ("sdk_ready", "sdk_normalised", "plain_ready",
                                                           "copy_by_hand", "loudnorm_by_hand")}
        try:
            with Fastpix(security=models.Security(username=token, password=secret), server_url=f"{server.url}/v1/",
                         retry_config=None, timeout_ms=600_000) as fp:
                for n in range(args.rounds):
                    ready, normalised = through_sdk(server, fp, source, optimize_audio=None)
                    results["sdk_ready"].append(ready)
                    results["sdk_normalised"].append(normalised or 0.0)
                    wait_idle(server)
                    results["plain_ready"].append(through_sdk(server, fp, source, optimize_audio=False)[0])
                    wait_idle(server)
                    results["copy_by_hand"].append(by_hand(source, folder / f"copy{n}", loudnorm=False))
                    results["loudnorm_by_hand"].append(by_hand(source, folder / f"loudnorm{n}", loudnorm=True))
        finally:
            server.stop()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
          f"{args.seconds} s 720p30 H.264/AAC, {args.rounds} rounds, median (min–max)")
    for key, values in results.items():
        print(f"{key:<18} {statistics.median(values):7.2f} s  ({min(values):.2f}–{max(values):.2f})")


if __name__ == "__main__":
    main()
