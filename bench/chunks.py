"""Chunked encoding benchmark: a long source re-encoded by 1 worker and by 2, against one hand-written ffmpeg command.

Run:  .venv/bin/python bench/chunks.py [--seconds 600] [--height 1080] [--chunk 60]

The source is MPEG-2 (so the whole ladder is encoded), `--seconds` long at `--height`p30 with a keyframe every
second. Each run gets its own CPU cores (`sched_setaffinity`, inherited by ffmpeg), as workers on their own
machines would: the hand-written single command a person would write for the same ladder (same rungs, same x264
settings, one encoder thread) on one core; reelhouse with 1 worker on one core, in a single pass (chunking off) and
in chunks; reelhouse with 2 workers on two cores, in chunks. All use `-threads 1` per encoder
(REELHOUSE_ENCODER_THREADS=1). Each is timed from the upload's last byte to the last rendition complete, and its top
rung's PSNR against the source is measured with ffmpeg's psnr filter: the stitched chunks must be within 0.3 dB of
reelhouse's single pass.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pipeline  # bench/, beside this script
from sqlalchemy import select

from reelhouse.db.models import PlaybackId
from reelhouse.media.ffmpeg import find_ffmpeg
from reelhouse.media.ladder import BITRATES
from reelhouse.settings import Settings
from reelhouse.testing import Server, free_port, make_token, start_server

FFMPEG = find_ffmpeg()
HLS = "-f hls -hls_time 4 -hls_playlist_type vod -hls_segment_type fmp4 -hls_fmp4_init_filename init.mp4"
X264 = ("-c:v libx264 -threads 1 -preset veryfast -profile:v high -pix_fmt yuv420p -sc_threshold 0 -g 240 "
        "-flags +cgop -force_key_frames 'expr:gte(t,n_forced*4)' -avoid_negative_ts disabled")


SINGLE, ONE, TWO = "reelhouse, 1 worker, single pass", "reelhouse, 1 worker, chunks", "reelhouse, 2 workers, chunks"


def sh(command: str) -> float:
    start = time.perf_counter()
    subprocess.run(command, shell=True, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def psnr(rendition: str, source: Path) -> float:
    """Average PSNR (all planes) of a rendition against the source, frame for frame from the start of each."""
    graph = "[0:v]setpts=PTS-STARTPTS[a];[1:v]setpts=PTS-STARTPTS[b];[a][b]psnr"
    result = subprocess.run([FFMPEG, "-hide_banner", "-i", rendition, "-i", str(source), "-lavfi", graph, "-f", "null",
                             "-"], capture_output=True, text=True, check=True)
    return float(re.findall(r"average:([\d.]+)", result.stderr)[-1])


def rungs(height: int) -> list[tuple[int, int, int]]:
    """(width, height, kbps) of the ladder reelhouse makes for a 16:9 source of `height`."""
    return [(round(h * 16 / 9 / 2) * 2, h, BITRATES[h] // 1000) for h in sorted(BITRATES) if h <= height]


def by_hand(source: Path, out: Path, height: int) -> tuple[float, str]:
    ladder = rungs(height)
    splits = "".join(f"[s{i}]" for i in range(len(ladder)))
    graph = f"[0:v:0]split={len(ladder)}{splits};" + ";".join(
        f"[s{i}]scale={w}:{h}[v{i}]" for i, (w, h, _) in enumerate(ladder))
    outputs = []
    for i, (_, h, kbps) in enumerate(ladder):
        (out / f"v{h}").mkdir(parents=True)
        outputs.append(f"-map [v{i}] {X264} -b:v {kbps}k -maxrate {kbps * 3 // 2}k -bufsize {kbps * 2}k {HLS} "
                       f"-hls_segment_filename {out}/v{h}/seg_%05d.m4s {out}/v{h}/index.m3u8")
    (out / "audio").mkdir()
    audio = f"-map 0:a:0 -c:a aac -b:a 128k -ac 2 {HLS} -hls_segment_filename {out}/audio/seg_%05d.m4s " \
            f"{out}/audio/index.m3u8"
    seconds = sh(f"{FFMPEG} -y -i {source} -filter_complex '{graph}' {' '.join(outputs)} {audio}")
    return seconds, str(out / f"v{height}" / "index.m3u8")


def through_reelhouse(folder: Path, source: Path, *, workers: int, chunk: float,
                      height: int) -> tuple[float, str, Server]:
    """(upload complete → every rendition complete, the top rung's URL, the server still running to read it)."""
    settings = Settings(data_dir=folder, port=free_port(), workers=workers, chunk_seconds=chunk, encoder_threads=1)
    auth = make_token(settings)
    server = start_server(settings)
    try:
        _, seconds = pipeline.through_reelhouse(server, auth, source, rungs=len(rungs(height)))
        with server.runtime.db.read() as session:
            pid = session.scalars(select(PlaybackId.id)).one()
        return seconds, f"{server.url}/stream/{pid}/v{height}/index.m3u8", server
    except BaseException:
        server.stop()
        raise


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=600)
    parser.add_argument("--height", type=int, default=1080, choices=sorted(BITRATES))
    parser.add_argument("--chunk", type=float, default=60.0, help="REELHOUSE_CHUNK_SECONDS")
    args = parser.parse_args()
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        sys.exit("needs two cores")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = folder / "source.ts"
        width = round(args.height * 16 / 9 / 2) * 2
        sh(f"{FFMPEG} -y -f lavfi -i testsrc2=size={width}x{args.height}:rate=30:duration={args.seconds} "
           f"-f lavfi -i sine=frequency=440:sample_rate=48000:duration={args.seconds} "
           f"-c:v mpeg2video -b:v 12M -g 30 -c:a mp2 -b:a 192k {source}")
        results = {}
        os.sched_setaffinity(0, cores[:1])
        seconds, top = by_hand(source, folder / "by_hand", args.height)
        results["one command, 1 core"] = (seconds, psnr(top, source))
        for label, workers, chunk in ((SINGLE, 1, 1e9), (ONE, 1, args.chunk), (TWO, 2, args.chunk)):
            os.sched_setaffinity(0, cores[:workers])
            seconds, top, server = through_reelhouse(folder / label.replace(" ", "_"), source, workers=workers,
                                                     chunk=chunk, height=args.height)
            try:
                os.sched_setaffinity(0, cores)
                results[label] = (seconds, psnr(top, source))
            finally:
                server.stop()
    print(f"machine: {platform.machine()}, {len(cores)} cores, Python {sys.version.split()[0]}; "
          f"{args.seconds} s {args.height}p30 MPEG-2 source, chunks of {args.chunk:g} s")
    print(f"{'run':<36} {'encode':>9} {'PSNR (top rung)':>16}")
    for label, (seconds, quality) in results.items():
        print(f"{label:<36} {seconds:>8.1f}s {quality:>15.2f}dB")
    single, one, two = results[SINGLE], results[ONE], results[TWO]
    print(f"2 workers vs 1: {one[0] / two[0]:.2f}x faster in chunks, {single[0] / two[0]:.2f}x faster than one worker's"
          f" single pass; PSNR of the stitched chunks vs the single pass: {two[1] - single[1]:+.2f} dB")
    print(json.dumps({k: {"seconds": round(s, 1), "psnr_db": round(q, 2)} for k, (s, q) in results.items()}))


if __name__ == "__main__":
    main()
