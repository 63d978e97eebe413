"""Writing WebVTT, for subtitle tracks and chapter files alike."""

from __future__ import annotations

import html
from collections.abc import Iterable


def document(cues: Iterable[tuple[float, float, str]]) -> str:
    """A WebVTT file of (start, end, text) cues; text is escaped so `<`, `>` and `&` show as typed."""
    blocks = (
        f"{timestamp(start)} --> {timestamp(end)}\n{html.escape(text, quote=False)}\n\n"
        for start, end, text in cues
    )
    return "WEBVTT\n\n" + "".join(blocks)


def timestamp(seconds: float) -> str:
    """HH:MM:SS.mmm, the form every WebVTT parser accepts (hours included even when zero)."""
    minutes, millis = divmod(round(seconds * 1000), 60_000)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{millis // 1000:02d}.{millis % 1000:03d}"
