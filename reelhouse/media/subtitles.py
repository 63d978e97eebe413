"""Subtitle files (WebVTT or SRT, any encoding) to clean, segmented WebVTT for HLS.

Pure functions over bytes and strings: parsing is webvtt-py's; what is decided here is what a player
may be handed. Cue text is HTML-escaped except for <b>, <i> and <u>, because players render it as
markup; cues are kept only with valid times inside the media, and segments follow the video's own
segment times with the X-TIMESTAMP-MAP players need to place cues on the fMP4 timeline.
"""

from __future__ import annotations

import codecs
import html
import io
import itertools
import re

import charset_normalizer
import webvtt
from webvtt import Caption, CueSettings
from webvtt.errors import MalformedCaptionError, MalformedFileError

MAX_BYTES = 10 * 1024 * 1024  # hours of dense dialogue fit in a few hundred kB
SEGMENT_FILE = "seg_{:05d}.vtt"
# Our fMP4 renditions start at presentation time 0, so cue time 0 maps to MPEG-TS 0.
TIMESTAMP_MAP = "X-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000"

_SRT_TIMING = re.compile(r"^\s*\d+:\d{2}:\d{2}[,.]\d{1,3}\s*-->\s*\d+:\d{2}:\d{2}[,.]\d{1,3}", re.MULTILINE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_TAG = re.compile(r"(<[^<>]*>)")
_KEPT_TAGS = {"b", "i", "u"}  # WebVTT markup that carries meaning (emphasis) and no attributes
_DROPPED_TAGS = re.compile(r"</?(font|v|c|lang|ruby|rt)\b|<\d", re.IGNORECASE)  # SRT styling, WebVTT spans


class SubtitleError(Exception):
    """The file cannot be turned into subtitles; the message is shown to users."""


def decode(data: bytes) -> str:
    """Text from UTF-8 (with or without BOM), UTF-16 with a BOM, or a legacy encoding found by detection.

    Binary data is refused: whatever decoding yields, control characters do not occur in subtitles.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = data.decode("utf-16", errors="replace")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = _legacy(data)
    text = text.removeprefix("\ufeff")
    if _CONTROL.search(text):
        raise SubtitleError("the file holds binary data, not WebVTT or SRT subtitles")
    return text


def _legacy(data: bytes) -> str:
    """The likeliest legacy encoding. Old subtitle files come from Windows tools, so among guesses that fit as
    well as the best, a Windows code page wins, Windows-1252 first (detection alone often cannot tell)."""
    matches = charset_normalizer.from_bytes(data)
    best = matches.best()
    if best is None:
        raise SubtitleError("the file is not text in any known encoding")
    windows = [m for m in matches if m.encoding.startswith("cp125") and m.chaos <= best.chaos]
    return str(min(windows, key=lambda m: m.encoding != "cp1252", default=best))


def parse(data: bytes) -> list[Caption]:
    """The cues of a WebVTT or SRT file, told apart by content (the `WEBVTT` signature, else SRT timing lines)."""
    text = decode(data)
    if text.lstrip(" \t").startswith("WEBVTT"):
        kind = "vtt"
    elif _SRT_TIMING.search(text):
        kind = "srt"
    else:
        raise SubtitleError("the file is neither WebVTT (no WEBVTT header) nor SRT (no cue timings)")
    try:
        return webvtt.from_buffer(io.StringIO(text), format=kind).captions
    except (MalformedFileError, MalformedCaptionError) as exc:
        raise SubtitleError(f"the {'WebVTT' if kind == 'vtt' else 'SRT'} file is malformed: {exc}") from None


def _markup(part: str) -> str:
    """A tag that is kept as it is, or any other text escaped so it shows literally (never as HTML)."""
    tag = re.fullmatch(r"<(/?)([a-zA-Z]+)>", part)
    if tag and tag[2].lower() in _KEPT_TAGS:
        return f"<{tag[1]}{tag[2].lower()}>"
    if _TAG.fullmatch(part) and _DROPPED_TAGS.match(part):
        return ""  # dropped rather than shown as text
    return html.escape(part, quote=False)


def clean_text(line: str) -> str:
    """A line of cue text safe to hand a player: entities decoded once, then everything escaped but b/i/u."""
    return "".join(_markup(part) for part in _TAG.split(html.unescape(line)) if part).strip()


def _timestamp(ms: int) -> str:
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def fit(captions: list[Caption], duration: float) -> list[Caption]:
    """The cues a player can show, in time order: text made safe, ends clamped to the media's `duration`;
    cues that are inverted, empty or start after the end are dropped. Overlapping cues are fine in WebVTT."""
    limit = round(duration * 1000)
    kept = []
    for caption in captions:
        start, end = caption.start_time.in_milliseconds(), min(caption.end_time.in_milliseconds(), limit)
        lines = [text for text in map(clean_text, caption.lines) if text]
        if start >= end or not lines:
            continue
        s = caption.settings  # known, valid settings only: regions are not carried over
        settings = CueSettings(vertical=s.vertical, line=s.line, position=s.position, size=s.size, align=s.align)
        kept.append(Caption(_timestamp(start), _timestamp(end), lines, settings=settings))
    return sorted(kept, key=lambda c: c.start_time.in_milliseconds())


def segments(captions: list[Caption], durations: list[float]) -> list[str]:
    """One WebVTT document per segment of the given durations, holding every cue shown during it (a cue that
    spans a boundary is repeated, as HLS asks); segments without cues are still written, so the playlist
    covers the whole media."""
    edges = [0, *(round(t * 1000) for t in itertools.accumulate(durations))]
    documents = []
    for start, end in itertools.pairwise(edges):
        inside = [c for c in captions
                  if c.start_time.in_milliseconds() < end and c.end_time.in_milliseconds() > start]
        documents.append(webvtt.WebVTT(captions=inside, metadata=[TIMESTAMP_MAP]).content)
    return documents
