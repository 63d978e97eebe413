"""Pipeline benchmark: upload complete → playable, and the full ladder, against hand-written ffmpeg.

Run:  .venv/bin/python bench/pipeline.py [--seconds 60]

For each of two 60 s 720p sources — H.264/AAC (played by stream copy) and MPEG-2/MP2 (needs
re-encoding) — it uploads the file to a reelhouse server started in this process and measures,
from the moment the upload's last byte is acknowledged:
  * playable: until GET /v1/on-demand/{id} says Ready (the master playlist plays);
  * full ladder: until every rung is published.
In the same run it times the baselines a person would write by hand with the same ffmpeg:
  * one command packaging the source into a single HLS rendition (what "playable" needs);
  * one command producing the same ladder (same rungs, same x264 settings) in one process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import select

from reelhouse.db.models import Media, utcnow
from reelhouse.media.ffmpeg import find_ffmpeg
from reelhouse.settings import Settings
from reelhouse.testing import Server, free_port, make_token, start_server

FFMPEG = find_ffmpeg()
HLS = "-f hls -hls_time 4 -hls_playlist_type vod -hls_segment_type fmp4 -hls_fmp4_init_filename init.mp4"
X264 = ("-c:v libx264 -preset veryfast -profile:v high -pix_fmt yuv420p -sc_threshold 0 -g 240 -flags +cgop "
        "-force_key_frames 'expr:gte(t,n_forced*4)' -avoid_negative_ts disabled")


def x264(kbps: int) -> str:
    """The same encoder settings reelhouse uses: average bitrate, capped at 1.5x with a 2x buffer."""
    return f"{X264} -b:v {kbps}k -maxrate {kbps * 3 // 2}k -bufsize {kbps * 2}k"


def sh(command: str) -> float:
    """Runs a shell command, returns its wall time in seconds."""
    start = time.perf_counter()
    subprocess.run(command, shell=True, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def make_sources(folder: Path, seconds: int) -> dict[str, Path]:
    lavfi = (f"-f lavfi -i testsrc2=size=1280x720:rate=30:duration={seconds} "
             f"-f lavfi -i sine=frequency=440:sample_rate=48000:duration={seconds}")
    standard, mpeg2 = folder / "h264_720p.mp4", folder / "mpeg2_720p.ts"
    sh(f"{FFMPEG} -y {lavfi} -c:v libx264 -preset faster -g 60 -b:v 3M -c:a aac -b:a 128k "
       f"-movflags +faststart {standard}")
    sh(f"{FFMPEG} -y {lavfi} -c:v mpeg2video -b:v 6M -g 15 -c:a mp2 -b:a 192k {mpeg2}")
    return {"h264 (stream copy)": standard, "mpeg2 (re-encode)": mpeg2}


def hand_written(source: Path, out: Path, *, copy: bool) -> tuple[float, float]:
    """(single-rendition time, full-ladder time) for the commands a person would write."""
    out.mkdir(parents=True)
    for name in ("a", "v360", "v480", "v720", "one"):
        (out / name).mkdir()

    def rendition(name: str) -> str:
        return f"{HLS} -hls_segment_filename {out}/{name}/seg_%05d.m4s {out}/{name}/index.m3u8"

    audio = f"-map 0:a:0 {'-c:a copy' if copy else '-c:a aac -b:a 128k -ac 2'} {rendition('a')}"
    if copy:
        single = f"{FFMPEG} -y -i {source} -map 0:v:0 -c:v copy {rendition('one')} {audio}"
        top = f"-map 0:v:0 -c:v copy {rendition('v720')}"
        graph = "[0:v:0]split=2[a][b];[a]scale=640:360[v0];[b]scale=854:480[v1]"
        encodes = f"-map [v0] {x264(800)} {rendition('v360')} -map [v1] {x264(1400)} {rendition('v480')}"
    else:
        single = f"{FFMPEG} -y -i {source} -map 0:v:0 -vf scale=640:360 {x264(800)} {rendition('one')} {audio}"
        top = ""
        graph = "[0:v:0]split=3[a][b][c];[a]scale=640:360[v0];[b]scale=854:480[v1];[c]scale=1280:720[v2]"
        encodes = (f"-map [v0] {x264(800)} {rendition('v360')} -map [v1] {x264(1400)} {rendition('v480')} "
                   f"-map [v2] {x264(2800)} {rendition('v720')}")
    single_time = sh(single)
    ladder_time = sh(f"{FFMPEG} -y -i {source} -filter_complex '{graph}' {encodes} {top} {audio}")
    return single_time, ladder_time


def through_reelhouse(server: Server, auth: tuple[str, str], source: Path) -> tuple[float, float]:
    """(upload complete → Ready, upload complete → every rung published) for one upload.

    The moments come from the rendition rows' own timestamps (a row is written the instant its
    rendition is published), so the client can poll gently instead of stealing CPU from the encode.
    """
    with httpx.Client(base_url=f"{server.url}/v1", auth=auth, timeout=600) as api:
        upload = api.post("/on-demand/upload", json={"corsOrigin": "*", "pushMediaSettings": {
            "accessPolicy": "public", "maxResolution": "1080p"}}).json()["data"]
        with source.open("rb") as body:
            httpx.put(upload["url"], content=body, timeout=600).raise_for_status()
        done = utcnow()
        playback_id = api.get(f"/on-demand/{upload['uploadId']}").json()["data"]["playbackIds"][0]["id"]
        while httpx.get(f"{server.url}/stream/{playback_id}.m3u8").text.count("#EXT-X-STREAM-INF") < 3:
            time.sleep(0.5)
        with server.runtime.db.read() as session:
            media = session.scalar(select(Media).where(Media.upload_id == upload["uploadId"]))
            published = sorted(r.created_at for r in media.renditions)
        return (published[0] - done).total_seconds(), (published[-1] - done).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sources = make_sources(folder, args.seconds)
        settings = Settings(data_dir=folder / "data", port=free_port(), workers=2)
        auth = make_token(settings)
        server = start_server(settings)
        results = []
        try:
            for label, source in sources.items():
                copy = source.suffix == ".mp4"
                single, ladder = hand_written(source, folder / f"by_hand_{source.stem}", copy=copy)
                playable, full = through_reelhouse(server, auth, source)
                results.append({"source": label, "playable_s": round(playable, 2), "baseline_single_s": round(single, 2),
                                "ladder_s": round(full, 2), "baseline_ladder_s": round(ladder, 2),
                                "ladder_ratio": round(full / ladder, 3)})
        finally:
            server.stop()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}, {args.seconds} s 720p30 sources")
    print(f"{'source':<20} {'playable':>9} {'1 rendition by hand':>20} {'full ladder':>12} {'ladder by hand':>15} {'ratio':>6}")
    for r in results:
        print(f"{r['source']:<20} {r['playable_s']:>8.2f}s {r['baseline_single_s']:>19.2f}s {r['ladder_s']:>11.2f}s "
              f"{r['baseline_ladder_s']:>14.2f}s {r['ladder_ratio']:>6.3f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
