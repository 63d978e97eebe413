"""HLS (fMP4/CMAF) packaging: ffmpeg argument lists, media playlist reading and the master playlist.

Every function here is pure (or reads only the files it is given), so tests inspect the exact
ffmpeg command lines without running them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

from reelhouse.media.chunks import WHOLE, Chunk
from reelhouse.media.ffmpeg import Location, input_args
from reelhouse.media.ladder import AUDIO_BITRATE, MAX_COPY_KEYFRAME_GAP, SEGMENT_SECONDS, Rung
from reelhouse.media.loudness import gain_filter
from reelhouse.media.probe import StreamInfo

AUDIO_FOLDER = "audio"
NORMALISED_AUDIO_FOLDER = "audio-norm"  # the original audio, loudness-normalised (`optimizeAudio`)
AAC_STEREO = ["-c:a", "aac", "-b:a", str(AUDIO_BITRATE), "-ac", "2"]
AUDIO_GROUP = "audio"
SUBTITLE_GROUP = "subs"
# What a closed-caption (SDH) subtitle rendition carries, so players offer it to viewers who asked for captions.
CLOSED_CAPTIONS = "public.accessibility.transcribes-spoken-dialog,public.accessibility.describes-music-and-sound"
AAC_PROFILES = {"LC": 2, "HE-AAC": 5, "HE-AACv2": 29}
# An encoded rendition's first segment is short, so the media plays as soon as half a second of every rung exists
# (x264's lookahead makes the wait longer than that); the encoded audio is cut every second for the same reason: the
# HLS muxer cuts audio at fixed intervals only, and longer ones made the audio the last to get its first segment.
FIRST_SEGMENT_SECONDS = 0.5
AUDIO_SEGMENT_SECONDS = 1
# A `cut` shorter than any gap between forced keyframes, so the muxer starts a segment at every one of them: the
# rungs encoded after a stream copy follow the copied rendition's segments, which may be any length.
EVERY_KEYFRAME = 0.001
KEYFRAME_SLACK = 0.001  # how early a keyframe is forced before the instant it must be at, against rounding


# ---------------------------------------------------------------- ffmpeg command lines


SEGMENT_NAME = r"(c\d{4,}-)?seg_\d{5,}"  # a segment's file name without its extension, as `hls_output` writes it


def part_files(index: int) -> str:
    """What a chunk's file names start with, so every chunk's segments sit side by side in the rendition's folder:
    the first chunk (or a whole encode) writes seg_00000.m4s, the fourth c0003-seg_00000.m4s."""
    return f"c{index:04d}-" if index else ""


def hls_output(
    folder: Path, seconds: float = SEGMENT_SECONDS, playlist_type: str = "vod", files: str = ""
) -> list[str]:
    """One rendition: fMP4 segments, init.mp4 and index.m3u8 in `folder`, the media files' names after `files`. A video
    segment ends at the first keyframe at or after each multiple of `seconds`. An `event` playlist is rewritten
    (atomically) as each segment is finished, so a publisher can follow the encode."""
    return [
        "-f", "hls",
        "-hls_time", str(seconds),
        "-hls_playlist_type", playlist_type,
        "-hls_segment_type", "fmp4",
        "-hls_fmp4_init_filename", f"{files}init.mp4",
        "-hls_segment_filename", str(folder / f"{files}seg_%05d.m4s"),
        str(folder / "index.m3u8"),
    ]  # fmt: skip


def audio_codec_args(audio: StreamInfo, gain: float | None = None) -> list[str]:
    """AAC stereo; source AAC is copied untouched unless a loudness gain (`media.loudness`) is to be applied."""
    if audio.codec == "aac" and (audio.channels or 2) <= 2 and gain is None:
        return ["-c:a", "copy"]
    return AAC_STEREO + (["-af", gain_filter(gain)] if gain is not None else [])


def x264_args(rung: Rung, keyframes: str, threads: int = 0) -> list[str]:
    """Closed GOPs with keyframes forced at the same instants on every rung, so players switch cleanly.

    B-frames delay the first picture; keeping the muxer from shifting timestamps (an edit list
    compensates instead) puts every rung's keyframes at exactly the same presentation times. x264's own
    interval is longer than any gap between forced keyframes (a copied rendition's segments, which the
    smaller rungs follow, may be MAX_COPY_KEYFRAME_GAP long), so it never adds one of its own.
    """
    gop = math.ceil(rung.fps * MAX_COPY_KEYFRAME_GAP) + 1
    return [*(["-threads", str(threads)] if threads else []),
        "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-pix_fmt", "yuv420p",
        "-b:v", str(rung.bitrate), "-maxrate", str(rung.bitrate * 3 // 2), "-bufsize", str(rung.bitrate * 2),
        "-force_key_frames", keyframes, "-sc_threshold", "0", "-g", str(gop), "-flags", "+cgop",
        "-avoid_negative_ts", "disabled",
    ]  # fmt: skip


def every_segment(*, short_first: bool = True) -> str:
    """Keyframes at 0, at FIRST_SEGMENT_SECONDS (unless not `short_first`), then every SEGMENT_SECONDS: the same
    instants on every rung."""
    if not short_first:
        return f"expr:gte(t,{SEGMENT_SECONDS}*n_forced)"
    return f"expr:if(eq(n_forced,1),gte(t,{FIRST_SEGMENT_SECONDS}),gte(t,{SEGMENT_SECONDS}*(n_forced-1)))"


def at_times(starts: list[float], fps: Fraction, chunk: Chunk = WHOLE) -> str:
    """Keyframes where another rendition's segments start (a stream-copied one): those inside `chunk` (its frames
    at `fps`), counted from its own first frame, each forced KEYFRAME_SLACK early so the frame there is the one."""
    begin = chunk.offset(fps)
    end = math.inf if chunk.frames is None else begin + float(chunk.frames / fps)
    inside = [t - begin for t in starts if begin - KEYFRAME_SLACK <= t < end - KEYFRAME_SLACK]
    return ",".join(f"{max(0.0, t - KEYFRAME_SLACK):.6f}" for t in inside) or "0"


def copy_command(source: Path, out: Path, rung: Rung | None, audio: StreamInfo | None) -> list[str]:
    """Repackages the source's own H.264 (and AAC) without re-encoding: I/O-bound, seconds for an hour. Event
    playlists, so it is published while it runs."""
    args = ["-y", "-i", str(source)]
    if rung is not None:
        args += ["-map", "0:v:0", "-c:v", "copy", *hls_output(out / rung.name, playlist_type="event")]
    if audio is not None:
        args += ["-map", "0:a:0", *audio_codec_args(audio),
                 *hls_output(out / AUDIO_FOLDER, playlist_type="event")]
    return args


def encode_command(
    source: Location, out: Path, rungs: list[Rung], audio: StreamInfo | None, keyframes: str,
    *, cut: float = SEGMENT_SECONDS, chunk: Chunk = WHOLE, threads: int = 0,
) -> list[str]:
    """Decodes once and encodes every rung (and the audio rendition, when given) in one ffmpeg process, with event
    playlists so it is published while it runs. `cut` no longer than the gap between forced keyframes (as for
    `every_segment`'s FIRST_SEGMENT_SECONDS) starts a segment at every one of them, on every rung alike.

    A `chunk` of a long source is decoded from its keyframe (`-ss` before `-i` starts exactly there) for its number
    of frames, and its segments are stamped with their place on the whole timeline (`frag_discont` makes the
    fragments carry the offset rather than an edit list), so they follow the previous chunk's without a gap. The
    `source` is a local file or (`Storage.as_input`) a URL, from which `-ss` reads only the chunk's part."""
    args = ["-y", *(["-ss", f"{chunk.start:.6f}"] if chunk.start else []), *input_args(source)]
    if rungs:
        fps = rungs[0].fps
        labels = [f"[v{i}]" for i in range(len(rungs))]
        splits = "".join(f"[s{i}]" for i in range(len(rungs)))
        chains = [f"[0:v:0]fps={fps.numerator}/{fps.denominator},split={len(rungs)}{splits}"]
        chains += [f"[s{i}]scale={r.width}:{r.height}:flags=bicubic,setsar=1{labels[i]}" for i, r in enumerate(rungs)]
        args += ["-filter_complex", ";".join(chains)]
        for label, rung in zip(labels, rungs, strict=True):
            args += ["-map", label, *x264_args(rung, keyframes, threads)]
            if chunk.frames is not None:
                args += ["-frames:v", str(chunk.frames)]
            if chunk.first_frame:
                args += ["-output_ts_offset", f"{chunk.offset(rung.fps):.6f}",
                         "-hls_segment_options", "movflags=+frag_discont"]
            args += hls_output(out / rung.name, cut, "event", part_files(chunk.index))
    if audio is not None:
        args += ["-map", "0:a:0", *audio_codec_args(audio),
                 *hls_output(out / AUDIO_FOLDER, AUDIO_SEGMENT_SECONDS, "event")]
    return args


def normalised_audio_command(source: Path, folder: Path, audio: StreamInfo, gain: float, seconds: float) -> list[str]:
    """The source's audio again, as the playable step's audio rendition had it (same first stream, same sample rate,
    same timestamps, cut every `seconds` as it was, hence the same segment boundaries) with the loudness gain."""
    return ["-y", "-i", str(source), "-map", "0:a:0", "-vn", *audio_codec_args(audio, gain),
            *hls_output(folder, seconds)]


def audio_cut(timeline: MediaPlaylist) -> float:
    """How often an audio rendition was cut: every SEGMENT_SECONDS beside a stream copy, every AUDIO_SEGMENT_SECONDS
    when the ladder was encoded. A single segment is as long as the whole audio, which either cut leaves whole."""
    if len(timeline.segments) < 2:
        return SEGMENT_SECONDS
    first = timeline.segments[0][1]
    return min((SEGMENT_SECONDS, AUDIO_SEGMENT_SECONDS), key=lambda cut: abs(cut - first))


def track_audio_command(source: Path, folder: Path, duration: float, gain: float | None) -> list[str]:
    """An added audio track on the media's timeline: its first audio stream as AAC stereo from 0, padded with
    silence or cut to `duration` so it lines up with the video; with the loudness gain when one was measured."""
    filters = [gain_filter(gain)] if gain is not None else []
    filters.append(f"apad=whole_dur={duration:.3f}")
    return [
        "-y", "-i", str(source), "-map", "0:a:0", *AAC_STEREO, "-ar", "48000", "-af", ",".join(filters),
        "-t", f"{duration:.3f}", *hls_output(folder),
    ]  # fmt: skip


# ---------------------------------------------------------------- media playlists


def vod_playlist(segments: list[tuple[str, float]]) -> str:
    """A complete VOD media playlist for segments we write ourselves (WebVTT), in the form ffmpeg writes."""
    target = max((math.ceil(d) for _, d in segments), default=1)
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{target}", "#EXT-X-MEDIA-SEQUENCE:0",
             "#EXT-X-PLAYLIST-TYPE:VOD"]
    for uri, duration in segments:
        lines += [f"#EXTINF:{duration:.6f},", uri]
    return "\n".join([*lines, "#EXT-X-ENDLIST"]) + "\n"


def event_playlist(init: str | None, segments: list[tuple[str, float]], target: int, *, ended: bool) -> str:
    """What players are given of a rendition being published: stored segments only, played from the beginning
    (EXT-X-START), in an EVENT playlist that only ever grows; EXT-X-ENDLIST once the encode ended, the one other
    change RFC 8216 (6.2.1) allows, after which players treat it as VOD."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", f"#EXT-X-TARGETDURATION:{target}", "#EXT-X-MEDIA-SEQUENCE:0",
             "#EXT-X-PLAYLIST-TYPE:EVENT", "#EXT-X-START:TIME-OFFSET=0"]
    if init:
        lines.append(f'#EXT-X-MAP:URI="{init}"')
    for uri, duration in segments:
        lines += [f"#EXTINF:{duration:.6f},", uri]
    return "\n".join([*lines, *(["#EXT-X-ENDLIST"] if ended else [])]) + "\n"


def target_duration(longest: float) -> int:
    """EXT-X-TARGETDURATION for segments up to `longest` seconds: each EXTINF rounded to the nearest integer must
    not exceed it, and it may not change while the playlist grows, so it comes from a bound known in advance."""
    return max(1, math.floor(longest + 0.5))


# ---------------------------------------------------------------- reading what ffmpeg wrote


@dataclass(frozen=True)
class MediaPlaylist:
    init: str | None
    segments: tuple[tuple[str, float], ...]  # (uri, duration)

    @property
    def duration(self) -> float:
        return sum(d for _, d in self.segments)

    def starts(self) -> list[float]:
        """Start time of every segment, from the first at 0."""
        starts, t = [], 0.0
        for _, duration in self.segments:
            starts.append(t)
            t += duration
        return starts


def parse_media_playlist(text: str) -> MediaPlaylist:
    init, segments, pending = None, [], None
    for line in (raw.strip() for raw in text.splitlines()):
        if line.startswith("#EXT-X-MAP:"):
            init = line.split('URI="', 1)[1].split('"', 1)[0]
        elif line.startswith("#EXTINF:"):
            pending = float(line[len("#EXTINF:"):].split(",", 1)[0])
        elif line and not line.startswith("#") and pending is not None:
            segments.append((line, pending))
            pending = None
    return MediaPlaylist(init, tuple(segments))


def bandwidth(folder: Path, playlist: MediaPlaylist) -> tuple[int, int]:
    """(peak, average) bits per second over the segments, as BANDWIDTH and AVERAGE-BANDWIDTH need."""
    return rates([((folder / uri).stat().st_size, d) for uri, d in playlist.segments])


def rates(segments: list[tuple[int, float]]) -> tuple[int, int]:
    """(peak, average) bits per second of segments given as (bytes, seconds)."""
    peak = max((size * 8 / max(d, 0.001) for size, d in segments), default=0)
    average = sum(size for size, _ in segments) * 8 / max(sum(d for _, d in segments), 0.001)
    return int(peak), int(average)


def avc_codec(init: Path) -> str:
    """RFC 6381 `avc1.PPCCLL` straight from the avcC box: profile, constraint flags, level as encoded."""
    data = init.read_bytes()
    at = data.find(b"avcC")
    if at < 0 or len(data) < at + 8:
        return "avc1.640028"
    profile, constraints, level = data[at + 5], data[at + 6], data[at + 7]
    return f"avc1.{profile:02X}{constraints:02X}{level:02X}"


def aac_codec(audio: StreamInfo, copied: bool) -> str:
    return f"mp4a.40.{AAC_PROFILES.get(audio.profile or 'LC', 2) if copied else 2}"


# ---------------------------------------------------------------- the master playlist


@dataclass(frozen=True)
class Variant:
    uri: str
    bandwidth: int
    average_bandwidth: int
    codecs: str
    width: int | None = None
    height: int | None = None
    frame_rate: float | None = None
    audio_group: str | None = None
    subtitle_group: str | None = None


@dataclass(frozen=True)
class Alternate:
    """An EXT-X-MEDIA entry: an audio or subtitle rendition players pick by language."""

    type: str  # AUDIO | SUBTITLES
    group: str
    name: str
    language: str | None
    uri: str
    default: bool
    autoselect: bool = True
    characteristics: str | None = None

    @property
    def forced(self) -> bool | None:
        """Subtitles say FORCED=NO outright: they are a viewer's choice, not forced narrative (foreign dialogue)."""
        return False if self.type == "SUBTITLES" else None


def _quoted(value: str) -> str:
    """Names come from API callers: a quote or a line break must not end the attribute or the line."""
    return '"' + "".join(" " if c < " " or c == "\x7f" else c for c in value.replace('"', "'")) + '"'


def _unique_names(alternates: list[Alternate]) -> list[Alternate]:
    """NAME must differ within a group (RFC 8216 4.3.4.1.1): a repeated one gets a number, `English 2`."""
    seen: set[tuple[str, str]] = set()
    unique = []
    for alt in alternates:
        name, n = alt.name, 1
        while (alt.group, name) in seen:
            n += 1
            name = f"{alt.name} {n}"
        seen.add((alt.group, name))
        unique.append(replace(alt, name=name))
    return unique


def master_playlist(variants: list[Variant], alternates: list[Alternate]) -> str:
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for alt in _unique_names(alternates):
        attrs = [f"TYPE={alt.type}", f"GROUP-ID={_quoted(alt.group)}", f"NAME={_quoted(alt.name)}"]
        if alt.language:
            attrs.append(f"LANGUAGE={_quoted(alt.language)}")
        attrs += [f"DEFAULT={'YES' if alt.default else 'NO'}", f"AUTOSELECT={'YES' if alt.autoselect else 'NO'}"]
        if alt.forced is not None:
            attrs.append(f"FORCED={'YES' if alt.forced else 'NO'}")
        if alt.characteristics:
            attrs.append(f"CHARACTERISTICS={_quoted(alt.characteristics)}")
        lines.append("#EXT-X-MEDIA:" + ",".join([*attrs, f"URI={_quoted(alt.uri)}"]))
    for v in sorted(variants, key=lambda v: v.bandwidth):
        attrs = [f"BANDWIDTH={v.bandwidth}", f"AVERAGE-BANDWIDTH={v.average_bandwidth}", f"CODECS={_quoted(v.codecs)}"]
        if v.width and v.height:
            attrs.append(f"RESOLUTION={v.width}x{v.height}")
        if v.frame_rate:
            attrs.append(f"FRAME-RATE={v.frame_rate:.3f}")
        if v.audio_group:
            attrs.append(f"AUDIO={_quoted(v.audio_group)}")
        if v.subtitle_group:
            attrs.append(f"SUBTITLES={_quoted(v.subtitle_group)}")
        lines += ["#EXT-X-STREAM-INF:" + ",".join(attrs), v.uri]
    return "\n".join(lines) + "\n"
