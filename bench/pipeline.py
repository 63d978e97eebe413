"""Pipeline benchmark: upload complete → Ready, and the full ladder, against hand-written ffmpeg.

Run:  .venv/bin/python bench/pipeline.py [--seconds 60] [--short] [--codecs h264,mpeg2,vp9,hevc] [--rounds 3]
      .venv/bin/python bench/pipeline.py --seconds 1800 --codecs mpeg2 --ready-only

For each 720p30 source — H.264/AAC (played by stream copy, then the smaller rungs), and MPEG-2/MP2, VP9/Opus and
HEVC/AAC (encoded into the whole ladder in one process, published while it runs) — it uploads the file to a
reelhouse server started in this process and measures, from the moment the upload's last byte is acknowledged:
  * Ready: until the media turns Ready (its renditions are listed: the master playlist plays);
  * full ladder: until every rendition is complete (the last transcode or ladder job is done).
In the same run, just before, it times the commands a person would write by hand with the same ffmpeg:
  * one command packaging the source into a single HLS rendition;
  * one command producing the same ladder (same rungs, same x264 settings, 4 s segments) in one process.
`--short` uses 15 s sources (a run of a minute or two on a quiet machine); `--rounds N` alternates baseline and
reelhouse N times per source and reports medians, for a machine that is not quiet. `--ready-only` measures Ready
alone, without the baselines or waiting for the ladder: for long sources (a 30-minute one is encoded in chunks).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import select

from reelhouse.db.enums import JobKind, JobStatus
from reelhouse.db.models import Job, Media, utcnow
from reelhouse.media.ffmpeg import find_ffmpeg
from reelhouse.settings import Settings
from reelhouse.testing import Server, free_port, make_token, start_server

FFMPEG = find_ffmpeg()
HLS = "-f hls -hls_time 4 -hls_playlist_type vod -hls_segment_type fmp4 -hls_fmp4_init_filename init.mp4"
X264 = ("-c:v libx264 -preset veryfast -profile:v high -pix_fmt yuv420p -sc_threshold 0 -g 240 -flags +cgop "
        "-force_key_frames 'expr:gte(t,n_forced*4)' -avoid_negative_ts disabled")
ENCODES = (JobKind.TRANSCODE, JobKind.CHUNK, JobKind.LADDER, JobKind.LADDER_CHUNK)  # the jobs that make renditions


def x264(kbps: int) -> str:
    """The same encoder settings reelhouse uses: average bitrate, capped at 1.5x with a 2x buffer."""
    return f"{X264} -b:v {kbps}k -maxrate {kbps * 3 // 2}k -bufsize {kbps * 2}k"


def sh(command: str) -> float:
    """Runs a shell command, returns its wall time in seconds."""
    start = time.perf_counter()
    subprocess.run(command, shell=True, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


SOURCES = {  # name: (file, encoding options, stream-copied?)
    "h264": ("h264_720p.mp4", "-c:v libx264 -preset faster -g 60 -b:v 3M -c:a aac -b:a 128k -movflags +faststart", True),
    "mpeg2": ("mpeg2_720p.ts", "-c:v mpeg2video -b:v 6M -g 15 -c:a mp2 -b:a 192k", False),
    "vp9": ("vp9_720p.webm", "-c:v libvpx-vp9 -deadline realtime -cpu-used 8 -b:v 2M -c:a libopus -b:a 128k", False),
    "hevc": ("hevc_720p.mp4", "-c:v libx265 -preset ultrafast -b:v 2M -tag:v hvc1 -c:a aac -b:a 128k", False),
}


def make_sources(folder: Path, seconds: int, codecs: list[str]) -> dict[str, tuple[Path, bool]]:
    lavfi = (f"-f lavfi -i testsrc2=size=1280x720:rate=30:duration={seconds} "
             f"-f lavfi -i sine=frequency=440:sample_rate=48000:duration={seconds}")
    made = {}
    for codec in codecs:
        name, options, copy = SOURCES[codec]
        sh(f"{FFMPEG} -y {lavfi} {options} {folder / name}")
        made[codec] = (folder / name, copy)
    return made


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


def through_reelhouse(server: Server, auth: tuple[str, str], source: Path, rungs: int,
                      ready_only: bool = False) -> tuple[float, float]:
    """(upload complete → Ready, upload complete → every rendition complete) for one upload.

    The moments come from the rows' own timestamps (the renditions are listed in the transaction that makes the
    media Ready; a job's row is updated when it is done), so the client polls gently instead of stealing CPU."""
    with httpx.Client(base_url=f"{server.url}/v1", auth=auth, timeout=600) as api:
        upload = api.post("/on-demand/upload", json={"corsOrigin": "*", "pushMediaSettings": {
            "accessPolicy": "public", "maxResolution": "1080p"}}).json()["data"]
        with source.open("rb") as body:
            httpx.put(upload["url"], content=body, timeout=600).raise_for_status()
        done = utcnow()
    while True:
        time.sleep(0.5)
        with server.runtime.db.read() as session:
            media = session.scalar(select(Media).where(Media.upload_id == upload["uploadId"]))
            if media is None:
                continue
            renditions = [r for r in media.renditions if r.type == "video"]
            jobs = session.scalars(select(Job).where(Job.media_id == media.id, Job.kind.in_(ENCODES))).all()
            if media.status == "Failed":
                raise RuntimeError(f"the media failed: {media.error}")
            if ready_only and media.renditions:
                ready = (min(r.created_at for r in media.renditions) - done).total_seconds()
                quiet_down(server, auth, media.id)
                return ready, float("nan")
            finished = len(renditions) == rungs and all(r.complete for r in media.renditions)
            if finished and jobs and all(j.status == JobStatus.DONE for j in jobs):
                ready = min(r.created_at for r in media.renditions)
                return (ready - done).total_seconds(), (max(j.updated_at for j in jobs) - done).total_seconds()


def quiet_down(server: Server, auth: tuple[str, str], media_id: str) -> None:
    """Deletes the media and waits until none of its jobs runs, so the rest of a long encode does not share the
    machine with the next round."""
    httpx.delete(f"{server.url}/v1/on-demand/{media_id}", auth=auth).raise_for_status()
    while True:
        with server.runtime.db.read() as session:
            if not session.scalars(select(Job).where(Job.status == JobStatus.RUNNING)).first():
                return
        time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--short", action="store_true", help="15 s sources")
    parser.add_argument("--codecs", default="h264,mpeg2", help=f"comma-separated, of {','.join(SOURCES)}")
    parser.add_argument("--rounds", type=int, default=1, help="baseline and reelhouse alternate this often; medians")
    parser.add_argument("--ready-only", action="store_true", help="Ready alone: no baselines, no full ladder")
    args = parser.parse_args()
    seconds = 15 if args.short else args.seconds
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sources = make_sources(folder, seconds, args.codecs.split(","))
        settings = Settings(data_dir=folder / "data", port=free_port(), workers=2)
        auth = make_token(settings)
        server = start_server(settings)
        results = []
        try:
            for label, (source, copy) in sources.items():
                runs = []
                for n in range(args.rounds):
                    by_hand = (float("nan"), float("nan")) if args.ready_only else \
                        hand_written(source, folder / f"by_hand_{source.stem}_{n}", copy=copy)
                    timed = through_reelhouse(server, auth, source, rungs=3, ready_only=args.ready_only)
                    runs.append((*by_hand, *timed))
                single, ladder, ready, full = (statistics.median(column) for column in zip(*runs, strict=True))
                results.append({"source": label + (" (copy)" if copy else " (encode)"), "ready_s": round(ready, 2),
                                "baseline_single_s": round(single, 2), "ladder_s": round(full, 2),
                                "baseline_ladder_s": round(ladder, 2), "ladder_ratio": round(full / ladder, 3)})
        finally:
            server.stop()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}, {seconds} s 720p30 sources")
    print(f"{'source':<16} {'Ready':>7} {'1 rendition by hand':>20} {'full ladder':>12} {'ladder by hand':>15} {'ratio':>6}")
    for r in results:
        print(f"{r['source']:<16} {r['ready_s']:>6.2f}s {r['baseline_single_s']:>19.2f}s {r['ladder_s']:>11.2f}s "
              f"{r['baseline_ladder_s']:>14.2f}s {r['ladder_ratio']:>6.3f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
