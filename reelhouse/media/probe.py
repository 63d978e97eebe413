"""Inspect uploaded media with PyAV, rejecting files that cannot actually be played.

`probe` decodes in a child process under a memory and a time limit: a hostile file (a tiny MJPEG declaring
16000 × 16000 pixels) costs that child, not the API or worker process that asked.
"""

import itertools
import logging
import math
import os
import pathlib
import pickle
import subprocess
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar, cast

import av
from av.container import InputContainer
from av.frame import Frame
from av.stream import Disposition, Stream

from reelhouse.media.ffmpeg import URL_OPTIONS, Location, without_queries

# Demuxing is bounded so that a hostile or broken file cannot keep probe() busy for long.
MAX_PACKETS_PER_STREAM = 200
STREAM_TYPES = {"video", "audio", "subtitle", "data"}
WEBM_CODECS = {"vp8", "vp9", "av1", "opus", "vorbis", "webvtt"}
MP4_BRANDS = {"qt": "mov", "M4A": "m4a"}
# Address space: PyAV takes 120 MiB, decoding a frame at the default pixel limit (8192 × 4320, 4:4:4, 10 bits)
# peaks at 358 MiB, the 16000 × 16000 MJPEG at 489 MiB.
PROBE_MEMORY_BYTES = 432 * 1024**2
PROBE_TIMEOUT = 60.0  # seconds: the bounded demuxing takes well under one on any real file
REMEMBERED = 64  # readings of unchanged files remembered per process

_remembered: OrderedDict[tuple[object, ...], object] = OrderedDict()
_remembered_lock = threading.Lock()

T = TypeVar("T")

log = logging.getLogger(__name__)


class ProbeError(Exception):
    """The file is not usable media; the message is meant for the uploader."""


@dataclass(frozen=True)
class StreamInfo:
    """One stream of a probed file; fields that do not apply to its type are None."""

    index: int
    type: str
    codec: str
    profile: str | None
    bit_rate: int | None
    language: str | None
    width: int | None
    height: int | None
    display_width: int | None
    display_height: int | None
    frame_rate: float | None
    pix_fmt: str | None
    bit_depth: int | None
    rotation: int
    sample_rate: int | None
    channels: int | None
    attached_pic: bool = False


@dataclass(frozen=True)
class ProbeResult:
    """What probe() learned about a file."""

    container_format: str
    duration: float
    size: int
    bit_rate: int | None
    streams: tuple[StreamInfo, ...]

    @property
    def video(self) -> StreamInfo | None:
        """The main picture, skipping cover art that audio files embed as a video stream."""
        return next((s for s in self.streams if s.type == "video" and not s.attached_pic), None)

    @property
    def audio(self) -> StreamInfo | None:
        return next((s for s in self.streams if s.type == "audio"), None)


def probe(path: Location, *, memory_bytes: int = PROBE_MEMORY_BYTES, timeout: float = PROBE_TIMEOUT) -> ProbeResult:
    """`probe_here` in a child process (reelhouse.media.probe_worker) limited to `memory_bytes` of address space
    and `timeout` seconds; what it cannot do within them is a ProbeError saying so.

    Remembered (`_remember`): starting the child costs a fifth of a second on the way to Ready."""
    return _remember(path, ("probe",), lambda: _probe_in_child(path, memory_bytes, timeout))


def _remember(path: Location, what: tuple[object, ...], read: Callable[[], T]) -> T:
    """`read()` of a file, or what it gave when this process read the file before, unchanged since (same inode, size
    and modification time): ingest and the playable step look at the same stored original. A URL is read again."""
    if isinstance(path, str):
        return read()
    try:
        stat = path.stat()
        key = (*what, str(path), stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
    except OSError:
        return read()
    with _remembered_lock:
        if key in _remembered:
            _remembered.move_to_end(key)
            return cast(T, _remembered[key])
    outcome = read()
    with _remembered_lock:
        _remembered[key] = outcome
        while len(_remembered) > REMEMBERED:
            _remembered.popitem(last=False)
    return outcome


def _probe_in_child(path: Location, memory_bytes: int, timeout: float) -> ProbeResult:
    command = [sys.executable, "-m", "reelhouse.media.probe_worker", str(memory_bytes),
               *(["--url"] if isinstance(path, str) else []), str(path)]
    try:
        # One malloc arena per thread reserves 64 MiB of address space: keep the limit about memory actually used.
        done = subprocess.run(command, capture_output=True, timeout=timeout, check=False,
                              env={**os.environ, "MALLOC_ARENA_MAX": "2"})
    except subprocess.TimeoutExpired:
        raise ProbeError(f"reading the file took longer than {timeout:.0f} s") from None
    if done.returncode != 0 or not done.stdout:
        log.warning("probing %s: the reader exited with %s: %s", without_queries(str(path)), done.returncode,
                    without_queries(done.stderr.decode(errors="replace").strip()[-2000:]))
        raise ProbeError("the file crashed the program reading it")
    outcome: ProbeResult | ProbeError = pickle.loads(done.stdout)  # noqa: S301 - our own child wrote it
    if isinstance(outcome, ProbeError):
        raise outcome
    return outcome


def probe_here(path: Location) -> ProbeResult:
    """Describe the media file at `path`, or raise ProbeError saying why it is unusable.

    Besides reading headers, the first video and audio streams must each decode a frame, so
    truncated or corrupt uploads are rejected here rather than half-way through a transcode.
    """
    size = path.stat().st_size if isinstance(path, pathlib.Path) else None
    if size == 0:
        raise ProbeError("the file is empty")
    try:
        container = av.open(str(path), metadata_errors="replace",
                            options=URL_OPTIONS if isinstance(path, str) else None)
    except av.FFmpegError as exc:
        raise ProbeError("not a media file ffmpeg can read") from exc
    with container:
        streams = [s for s in container.streams if s.type in STREAM_TYPES]
        main = [s for s in (_first(streams, "video"), _first(streams, "audio")) if s is not None]
        if not main:
            raise ProbeError("no decodable audio or video stream")
        frames = _first_frames(container, main)
        for stream in main:
            if stream.index not in frames:
                raise ProbeError(
                    f"the {stream.type} stream cannot be decoded;"
                    " the file may be truncated or corrupt"
                )
        infos = tuple(_stream_info(s, frames.get(s.index)) for s in streams)
        return ProbeResult(
            container_format=_container_format(container, infos),
            duration=_duration(container, streams),
            size=container.size if size is None else size,
            bit_rate=container.bit_rate or None,
            streams=infos,
        )


def _first(streams: list[Stream], kind: str) -> Stream | None:
    """First stream of `kind`, ignoring cover art so an mp3 with artwork counts as audio-only."""
    return next(
        (s for s in streams if s.type == kind and not s.disposition & Disposition.attached_pic),
        None,
    )


def _first_frames(container: InputContainer, streams: list[Stream]) -> dict[int, Frame]:
    """Decode until each stream yields a frame, within a bounded number of packets."""
    frames: dict[int, Frame] = {}
    for stream in streams:
        if stream.codec_context is not None:
            stream.codec_context.thread_count = 1  # one frame is wanted: no thread pool's stacks and buffers
    packets = container.demux(streams)
    try:
        for packet in itertools.islice(packets, MAX_PACKETS_PER_STREAM * len(streams)):
            if packet.stream.index in frames:
                continue
            try:
                decoded = packet.decode()
            except MemoryError:  # PyAV's ENOMEM is an FFmpegError too, but not damage: the caller says what it is
                raise
            except av.FFmpegError:
                continue  # a damaged packet; a later one may still decode
            if decoded:
                frames[packet.stream.index] = decoded[0]
                if len(frames) == len(streams):
                    break
    except MemoryError:
        raise
    except av.FFmpegError:
        pass  # the demuxer gave up, e.g. on truncated data; keep what decoded so far
    return frames


def _stream_info(stream: Stream, frame: Frame | None) -> StreamInfo:
    context = stream.codec_context  # None when PyAV has no decoder for the codec
    video = stream.type == "video" and context is not None
    audio = stream.type == "audio" and context is not None
    rotation = _rotation(stream, frame) if stream.type == "video" else 0
    width = context.width if video else None
    height = context.height if video else None
    swap = rotation in (90, 270)
    rate = stream.average_rate if video else None
    depth = max(c.bits for c in context.format.components) if video and context.format else None
    language = stream.language
    return StreamInfo(
        index=stream.index,
        type=stream.type,
        codec=context.codec.canonical_name if context else "unknown",
        profile=stream.profile,
        bit_rate=(context.bit_rate or None) if context else None,
        language=language if language != "und" else None,
        width=width,
        height=height,
        display_width=height if swap else width,
        display_height=width if swap else height,
        frame_rate=float(rate) if rate else None,
        pix_fmt=context.pix_fmt if video else None,
        bit_depth=depth,
        rotation=rotation,
        sample_rate=context.sample_rate if audio else None,
        channels=context.channels if audio else None,
        attached_pic=bool(stream.disposition & Disposition.attached_pic),
    )


def _rotation(stream: Stream, frame: Frame | None) -> int:
    """Counter-clockwise display rotation in 0..359, as ffmpeg's -display_rotation sets it.

    PyAV 18 does not expose a stream's display matrix, but decoders copy it onto every frame.
    The legacy "rotate" tag, still written by some tools, is clockwise, hence the negation.
    """
    degrees = frame.rotation if frame is not None else 0
    tag = stream.metadata.get("rotate", "")
    if not degrees and tag.lstrip("-").isdigit():
        degrees = -int(tag)
    return degrees % 360


def _duration(container: InputContainer, streams: list[Stream]) -> float:
    if container.duration and container.duration > 0:
        return container.duration / av.time_base
    durations = [float(s.duration * s.time_base) for s in streams if s.duration and s.time_base]
    if not durations or max(durations) <= 0:
        raise ProbeError("the duration of the file cannot be determined")
    return max(durations)


def _container_format(container: InputContainer, streams: tuple[StreamInfo, ...]) -> str:
    """Short user-facing format name instead of PyAV's demuxer family like "mov,mp4,m4a,..."."""
    name = container.format.name
    if name.startswith("mov,"):
        brand = container.metadata.get("major_brand", "").strip()
        return MP4_BRANDS.get(brand, "mp4")
    if name == "matroska,webm":
        return "webm" if all(s.codec in WEBM_CODECS for s in streams) else "matroska"
    return name.split(",")[0]


@dataclass(frozen=True)
class Timeline:
    """What reading packets (without decoding) found: how many each stream has, where the first and the last begin
    and end, and the longest stretch between keyframes of each video stream (None without keyframes or timestamps:
    it cannot be cut by copy)."""

    packets: dict[int, int]
    begin: float  # seconds from the file's start time where the first packet read begins
    end: float  # and where the last ends: what plays, whatever the container declares
    keyframe_gaps: dict[int, float | None]

    def frames_per_second(self, stream_index: int) -> float:
        return self.packets.get(stream_index, 0) / max(self.end - self.begin, 1e-3)


def main_streams(info: "ProbeResult") -> list[int]:
    """The streams reelhouse plays: the first video and the first audio."""
    return [s.index for s in (info.video, info.audio) if s is not None]


def read_timeline(path: pathlib.Path, stream_indexes: list[int]) -> Timeline:
    """Demuxes the streams to the end of the data. A file cut short stops where its data stops, so `end` is what
    plays even when the container's index (a faststart MP4's moov) promises more. Remembered (`_remember`): ingest
    may read it, and the playable step reads it for the keyframe spacing and the frame count of the same original."""
    return _remember(path, ("timeline", *stream_indexes), lambda: _read_timeline(path, stream_indexes, None))


def read_tail(path: pathlib.Path, stream_indexes: list[int], from_time: float) -> Timeline:
    """`read_timeline` from the keyframe at or before `from_time` (seconds from the file's start): the end of a
    long file in milliseconds, where reading all of it takes seconds. No packets (`end` 0) when the data stops
    before there."""
    return _read_timeline(path, stream_indexes, from_time)


def _read_timeline(path: pathlib.Path, stream_indexes: list[int], from_time: float | None) -> Timeline:
    counts = dict.fromkeys(stream_indexes, 0)
    begin, end = math.inf, 0.0
    ends: dict[int, float] = {}
    with av.open(str(path), metadata_errors="replace") as container:
        start = container.start_time / av.time_base if container.start_time else 0.0
        video = {i for i in stream_indexes if container.streams[i].type == "video"}
        keyframes: dict[int, list[float]] = {i: [] for i in video}
        try:
            if from_time:
                container.seek(int((start + from_time) * av.time_base), backward=True, any_frame=False)
            for packet in container.demux([container.streams[i] for i in stream_indexes]):
                if packet.size == 0:  # the demuxer's end-of-stream marker
                    continue
                index = packet.stream.index
                counts[index] += 1
                if packet.pts is not None and packet.time_base is not None:
                    moment = float(packet.pts * packet.time_base)
                    begin = min(begin, moment - start)
                    end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base) - start)
                    if index in video:
                        ends[index] = max(ends.get(index, 0.0), moment)
                        if packet.is_keyframe:
                            keyframes[index].append(moment)
        except av.FFmpegError:
            pass  # damaged or truncated data: what was read so far is what plays
    gaps = {i: _longest_gap(sorted(found), ends.get(i, 0.0)) for i, found in keyframes.items()}
    return Timeline(counts, min(begin, end), end, gaps)


def _longest_gap(keyframes: list[float], end: float) -> float | None:
    if not keyframes:
        return None
    return max(b - a for a, b in itertools.pairwise([*keyframes, max(end, keyframes[-1])]))


def keyframes_after(path: pathlib.Path, stream_index: int, times: list[float]) -> list[float | None]:
    """For each of `times` (ascending seconds from the start of the file, as ffmpeg's `-ss` counts them) the first
    video keyframe at or after it, None where there is none: a seek and a few packet flags each, no decoding. Each
    time is rounded to the microsecond, as `-ss` takes it."""
    found: list[float | None] = []
    with av.open(str(path), metadata_errors="replace") as container:
        stream = container.streams[stream_index]
        origin = container.start_time or 0  # microseconds
        for time in times:
            container.seek(origin + int(time * av.time_base), backward=True, any_frame=False)
            keyframe = None
            for packet in container.demux(stream):
                if packet.pts is None or not packet.is_keyframe:
                    continue
                moment = round(float(packet.pts * stream.time_base) * av.time_base - origin) / av.time_base
                if moment >= time:
                    keyframe = moment
                    break
            if keyframe is None:
                break  # none after this time, nor after any later one
            found.append(keyframe)
    return found + [None] * (len(times) - len(found))


# Decoders of still images: what a watermark may be, as opposed to a video or a document.
IMAGE_CODECS = frozenset({"png", "mjpeg", "jpegls", "webp", "bmp", "gif", "tiff", "apng", "qoi"})


def probe_image(path: pathlib.Path) -> tuple[int, int]:
    """(width, height) of the still image at `path`, decoded to be sure; ProbeError when it is anything else."""
    try:
        with av.open(str(path)) as container:
            stream = next((s for s in container.streams.video), None)
            if stream is None or stream.codec_context.name not in IMAGE_CODECS:
                raise ProbeError("the file is not an image (PNG, JPEG, WebP, GIF or BMP)")
            frame = next(container.decode(stream), None)
    except av.FFmpegError as exc:
        raise ProbeError("the file is not an image (PNG, JPEG, WebP, GIF or BMP)") from exc
    if frame is None:
        raise ProbeError("the image holds no picture")
    return frame.width, frame.height
