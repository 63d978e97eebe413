"""Cutting a clip at ingest: the span of its input (a pulled URL, an upload, or another media's original) becomes
the clip's own original, so it plays, and outlives its source, like any other media.

Safe to re-run: the uncut input is kept under the media's own `input` key until the original is written.
"""

from __future__ import annotations

from collections.abc import Callable

from reelhouse.db.models import Media
from reelhouse.jobs.params import Params
from reelhouse.jobs.step import JobContext, PermanentError
from reelhouse.media.trim import Span, SpanError, trim_command
from reelhouse.storage.keys import media_prefix, original_key

Fetch = Callable[[JobContext[Params], Media, str], None]


def is_clip(media: Media) -> bool:
    return media.source_media_id is not None or media.clip_start is not None or media.clip_end is not None


def _input_key(media: Media) -> str:
    """Where the uncut input waits: the source's own original for a clip of a media, else a key of this media's."""
    if media.source_media_id is not None:
        return original_key(media.source_media_id)
    return f"{media_prefix(media.id)}/input"


def cut(ctx: JobContext[Params], media: Media, key: str, fetch: Fetch) -> None:
    """Writes the span of the media's input to `key` (its original): frame-exact, or the input itself when the
    span is all of it. `fetch` gets a URL's or an upload's input as ingest gets any original. A span the input is
    too short for fails the media, saying which end is out."""
    rt = ctx.runtime
    source_key = _input_key(media)
    if media.source_media_id is not None:
        if not rt.storage.exists(source_key):
            raise PermanentError("the media this clip is cut from was deleted before the clip was made")
    elif not rt.storage.exists(source_key):  # else an earlier attempt got it
        fetch(ctx, media, source_key)
    with rt.storage.as_local_file(source_key, ctx.scratch) as source:
        info = ctx.probe(source, what="the input")
        try:
            span = Span(media.clip_start or 0.0, media.clip_end).within(info.duration)
        except SpanError as exc:
            raise PermanentError(str(exc)) from None
        if span.is_whole(info.duration):
            rt.storage.put_file(key, source)
        else:
            clip = ctx.scratch / "clip.mp4"
            args = trim_command(source, clip, span, video=info.video is not None, audio=info.audio is not None)
            assert span.end is not None
            ctx.ffmpeg(args, duration=span.end - span.start, work=1.0, what="cutting the clip failed")
            rt.storage.put_file(key, clip)
    if media.source_media_id is None:
        rt.storage.delete(source_key)
