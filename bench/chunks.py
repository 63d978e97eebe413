"""Chunked encoding benchmark: a long source re-encoded by 1 worker and by 2, against one hand-written ffmpeg command.

Run:  .venv/bin/python bench/chunks.py [--seconds 600] [--height 1080] [--chunk 60] [--codec mpeg2|h264] [--rounds 1]

The source is `--seconds` long at `--height`p30 with a keyframe every second: MPEG-2 (the default), so the whole
ladder is encoded, or H.264/AAC, which reelhouse copies as its top rung and then encodes the smaller rungs after
(the ladder job, chunked where the copy's segments start). Each run gets its own CPU cores (`sched_setaffinity`,
inherited by ffmpeg), as workers on their own machines would: the hand-written single command a person would write
for the same renditions (same rungs, same x264 settings, one encoder thread, the H.264 top rung copied) on one core;
reelhouse with 1 worker on one core, in a single pass (chunking off) and in chunks; reelhouse with 2 workers on two
cores, in chunks. All use `-threads 1` per encoder (REELHOUSE_ENCODER_THREADS=1). Each is timed from the upload's
last byte to the last rendition complete, and the PSNR of its largest encoded rung against the source (scaled to
that rung's size) is measured with ffmpeg's psnr filter: the stitched chunks must be within 0.3 dB of reelhouse's
single pass. A host whose speed drifts over the hour such a run takes skews runs made one after the other:
`--rounds 2` runs 1 and 2 workers in chunks again in the reverse order (1, 2, 2, 1), and compares their sums. A
repeated run's PSNR is not measured again (the same settings encode the same bytes).
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


# The source's codecs: MPEG-2 is re-encoded into the whole ladder; H.264/AAC is copied, and the smaller rungs follow.
SOURCES = {"mpeg2": "-c:v mpeg2video -b:v 12M -g 30 -c:a mp2 -b:a 192k",
           "h264": "-c:v libx264 -preset ultrafast -b:v 12M -g 30 -pix_fmt yuv420p -c:a aac -b:a 192k"}
BY_HAND = "one command, 1 core"
SINGLE, ONE, TWO = "reelhouse, 1 worker, single pass", "reelhouse, 1 worker, chunks", "reelhouse, 2 workers, chunks"


def sh(command: str) -> float:
    start = time.perf_counter()
    subprocess.run(command, shell=True, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def psnr(rendition: str, source: Path, width: int, height: int) -> float:
    """Average PSNR (all planes) of a rendition of width x height against the source scaled to it (as reelhouse
    scales), frame for frame from the start of each."""
    graph = (f"[0:v]setpts=PTS-STARTPTS[a];[1:v]scale={width}:{height}:flags=bicubic,setpts=PTS-STARTPTS[b];"
             "[a][b]psnr")
    result = subprocess.run([FFMPEG, "-hide_banner", "-i", rendition, "-i", str(source), "-lavfi", graph, "-f", "null",
                             "-"], capture_output=True, text=True, check=True)
    return float(re.findall(r"average:([\d.]+)", result.stderr)[-1])


def rungs(height: int) -> list[tuple[int, int, int]]:
    """(width, height, kbps) of the ladder reelhouse makes for a 16:9 source of `height`."""
    return [(round(h * 16 / 9 / 2) * 2, h, BITRATES[h] // 1000) for h in sorted(BITRATES) if h <= height]


def by_hand(source: Path, out: Path, height: int, *, copy: bool) -> float:
    """The same renditions in one command: every rung encoded, or (`copy`) the top one and the AAC audio copied."""
    top, *_ = encoded = rungs(height)[::-1]
    if copy:
        encoded = encoded[1:]
        (out / f"v{top[1]}").mkdir(parents=True)
    splits = "".join(f"[s{i}]" for i in range(len(encoded)))
    graph = f"[0:v:0]split={len(encoded)}{splits};" + ";".join(
        f"[s{i}]scale={w}:{h}[v{i}]" for i, (w, h, _) in enumerate(encoded))
    outputs = [f"-map 0:v:0 -c:v copy {HLS} -hls_segment_filename {out}/v{top[1]}/seg_%05d.m4s "
               f"{out}/v{top[1]}/index.m3u8"] if copy else []
    for i, (_, h, kbps) in enumerate(encoded):
        (out / f"v{h}").mkdir(parents=True)
        outputs.append(f"-map [v{i}] {X264} -b:v {kbps}k -maxrate {kbps * 3 // 2}k -bufsize {kbps * 2}k {HLS} "
                       f"-hls_segment_filename {out}/v{h}/seg_%05d.m4s {out}/v{h}/index.m3u8")
    (out / "audio").mkdir()
    audio = f"-map 0:a:0 {'-c:a copy' if copy else '-c:a aac -b:a 128k -ac 2'} {HLS} " \
            f"-hls_segment_filename {out}/audio/seg_%05d.m4s {out}/audio/index.m3u8"
    return sh(f"{FFMPEG} -y -i {source} -filter_complex '{graph}' {' '.join(outputs)} {audio}")


def through_reelhouse(folder: Path, source: Path, *, workers: int, chunk: float, height: int,
                      measured: int) -> tuple[float, str, Server]:
    """(upload complete → every rendition complete, the `measured` rung's URL, the server still running to read
    it)."""
    settings = Settings(data_dir=folder, port=free_port(), workers=workers, chunk_seconds=chunk, encoder_threads=1)
    auth = make_token(settings)
    server = start_server(settings)
    try:
        _, seconds = pipeline.through_reelhouse(server, auth, source, rungs=len(rungs(height)))
        with server.runtime.db.read() as session:
            pid = session.scalars(select(PlaybackId.id)).one()
        return seconds, f"{server.url}/stream/{pid}/v{measured}/index.m3u8", server
    except BaseException:
        server.stop()
        raise


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=600)
    parser.add_argument("--height", type=int, default=1080, choices=sorted(BITRATES))
    parser.add_argument("--chunk", type=float, default=60.0, help="REELHOUSE_CHUNK_SECONDS")
    parser.add_argument("--codec", default="mpeg2", choices=sorted(SOURCES), help="the source's codecs")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of 1 and 2 workers in chunks")
    args = parser.parse_args()
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        sys.exit("needs two cores")
    copy = args.codec == "h264"
    ladder = rungs(args.height)
    if copy and len(ladder) < 2:
        sys.exit("an H.264 source copied at this height leaves no rung to encode")
    width, measured, _ = ladder[-2] if copy else ladder[-1]  # the largest encoded rung
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = folder / f"source.{'mp4' if copy else 'ts'}"
        sh(f"{FFMPEG} -y -f lavfi -i testsrc2=size={ladder[-1][0]}x{args.height}:rate=30:duration={args.seconds} "
           f"-f lavfi -i sine=frequency=440:sample_rate=48000:duration={args.seconds} {SOURCES[args.codec]} {source}")
        seconds: dict[str, list[float]] = {}  # each run's encode time, in the order they ran
        quality: dict[str, float] = {}  # PSNR of the first run of each
        os.sched_setaffinity(0, cores[:1])
        seconds[BY_HAND] = [by_hand(source, folder / "by_hand", args.height, copy=copy)]
        quality[BY_HAND] = psnr(str(folder / "by_hand" / f"v{measured}" / "index.m3u8"), source, width, measured)
        runs = [(SINGLE, 1, 1e9), (ONE, 1, args.chunk), (TWO, 2, args.chunk)]
        runs += [run for again in range(1, args.rounds) for run in runs[1:][::(-1) ** again]]
        for label, workers, chunk in runs:
            os.sched_setaffinity(0, cores[:workers])
            took, url, server = through_reelhouse(folder / f"run{sum(map(len, seconds.values()))}", source,
                                                  workers=workers, chunk=chunk, height=args.height, measured=measured)
            try:
                os.sched_setaffinity(0, cores)
                seconds.setdefault(label, []).append(took)
                if label not in quality:
                    quality[label] = psnr(url, source, width, measured)
            finally:
                server.stop()
    print(f"machine: {platform.machine()}, {len(cores)} cores, Python {sys.version.split()[0]}; "
          f"{args.seconds} s {args.height}p30 {args.codec} source, chunks of {args.chunk:g} s, {args.rounds} round(s)")
    print(f"{'run':<36} {'encode (each run)':>24} {f'PSNR ({measured}p rung)':>16}")
    for label, took in seconds.items():
        print(f"{label:<36} {' / '.join(f'{t:.1f}s' for t in took):>24} {quality[label]:>15.2f}dB")
    one, two = sum(seconds[ONE]), sum(seconds[TWO])
    print(f"2 workers vs 1: {one / two:.2f}x faster in chunks, {seconds[SINGLE][0] * len(seconds[TWO]) / two:.2f}x "
          f"faster than one worker's single pass; PSNR of the stitched chunks vs the single pass: "
          f"{quality[TWO] - quality[SINGLE]:+.2f} dB")
    print(json.dumps({label: {"seconds": [round(t, 1) for t in took], "psnr_db": round(quality[label], 2)}
                      for label, took in seconds.items()}))


if __name__ == "__main__":
    main()
