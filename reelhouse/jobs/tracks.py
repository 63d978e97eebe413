"""The `track` step: an added audio or subtitle track, fetched from its URL and published as an alternate rendition.

Generated subtitle tracks go the same way, made by the `speech` step (`reelhouse.jobs.ai`) through `make`.
Jobs are keyed by (track, revision). Each new URL bumps the track's revision, so a job for an older file finds
itself stale and drops whatever it stored. A new file goes to a rendition folder of its own and its row replaces
the track's previous one in a single transaction, so players switch only once it is complete; the previous
files go after the commit. Until then the media plays on as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session
from webvtt import Caption

from reelhouse.catalog.tracks import label, rendition_name
from reelhouse.db.enums import TrackStatus
from reelhouse.db.models import Job, Media, Rendition, Track
from reelhouse.jobs.params import TrackParams
from reelhouse.jobs.renditions import reference_playlist, upload
from reelhouse.jobs.step import JobContext, PermanentError, Step
from reelhouse.media import hls, subtitles
from reelhouse.runtime import Runtime
from reelhouse.storage.keys import rendition_prefix
from reelhouse.webhooks.events import emit_media

# Writes a track's rendition files into a folder, on the media's timeline, and returns their codecs.
Produce = Callable[[JobContext[TrackParams], Media, Track, hls.MediaPlaylist, Path], str]


def run(ctx: JobContext[TrackParams]) -> None:
    make(ctx, _from_url)


def make(ctx: JobContext[TrackParams], produce: Produce) -> None:
    """What every track job does around `produce`: drop a stale job's files, then store and publish the rendition."""
    rt = ctx.runtime
    track_id, revision = ctx.params.track, ctx.params.revision
    name = rendition_name(track_id, revision)
    with rt.db.read() as session:
        media = session.get(Media, ctx.media_id)
        if media is None:
            return
        track = session.get(Track, track_id)
        if track is None or track.revision != revision:  # deleted or replaced: drop what an earlier try stored
            rt.storage.delete_prefix(rendition_prefix(media.id, name))
            return
        if any(r.name == name for r in media.renditions):  # an earlier attempt published it
            return
        timeline = reference_playlist(rt, media)
    folder = ctx.scratch / name
    folder.mkdir(parents=True, exist_ok=True)
    codecs = produce(ctx, media, track, timeline, folder)
    playlist = hls.parse_media_playlist((folder / "index.m3u8").read_text())
    if not playlist.segments:
        raise PermanentError(f"no {track.type} segments came out of the file")
    peak, average = hls.bandwidth(folder, playlist)
    rendition = Rendition(name=name, type=track.type, codecs=codecs, bandwidth=peak, average_bandwidth=average,
                          duration=playlist.duration, track_id=track.id)
    upload(rt, media.id, name, folder, playlist)
    _publish(rt, media.id, track.id, revision, rendition)


def _from_url(ctx: JobContext[TrackParams], media: Media, track: Track, timeline: hls.MediaPlaylist, folder: Path) -> str:
    rt = ctx.runtime
    source = ctx.scratch / "source"
    is_subtitle = track.type == "subtitle"
    limit = min(rt.settings.max_source_bytes, subtitles.MAX_BYTES) if is_subtitle else rt.settings.max_source_bytes
    ctx.fetch(track.url or "", source, max_bytes=limit, what=f"{track.type} track")
    if not is_subtitle:
        return _encode_audio(ctx, source, folder, timeline.duration, media.optimize_audio)
    captions = subtitle_cues(source.read_bytes(), timeline)
    if not captions:
        raise PermanentError("the file has no cue with valid times within the media's duration")
    return segment_subtitles(captions, folder, timeline)


def subtitle_cues(data: bytes, timeline: hls.MediaPlaylist) -> list[Caption]:
    """The cues of a WebVTT or SRT file that a player can show on the media's timeline, their text made safe."""
    try:
        return subtitles.fit(subtitles.parse(data), timeline.duration)
    except subtitles.SubtitleError as exc:
        raise PermanentError(str(exc)) from None


def segment_subtitles(captions: list[Caption], folder: Path, timeline: hls.MediaPlaylist) -> str:
    """Clean WebVTT in segments matching the video's, so the playlist covers the whole media (with or without cues)."""
    durations = [duration for _, duration in timeline.segments]
    files = [subtitles.SEGMENT_FILE.format(n) for n in range(len(durations))]
    for file, document in zip(files, subtitles.segments(captions, durations), strict=True):
        (folder / file).write_text(document, encoding="utf-8")
    (folder / "index.m3u8").write_text(hls.vod_playlist(list(zip(files, durations, strict=True))))
    return "wvtt"


def _encode_audio(ctx: JobContext[TrackParams], source: Path, folder: Path, duration: float, optimize_audio: bool) -> str:
    """AAC on the media's timeline, from any format ffmpeg decodes."""
    audio = ctx.probe(source, what="not an audio file").audio
    if audio is None:
        raise PermanentError("the file has no audio stream")
    gain = ctx.loudness_gain(source, duration=duration) if optimize_audio else None
    args = hls.track_audio_command(source, folder, duration, gain)
    ctx.ffmpeg(args, duration=duration, work=1, what="the audio could not be transcoded")
    return hls.aac_codec(audio, copied=False)


def _publish(rt: Runtime, media_id: str, track_id: str, revision: int, rendition: Rendition) -> None:
    """Swaps the track's rendition row in one transaction (the master playlist changes at once), then removes
    the previous files; a job that went stale meanwhile removes its own instead."""
    unused = [rendition.name]
    with rt.db.write() as session:
        media = session.get(Media, media_id, with_for_update=True)
        if media is None:  # deleted meanwhile: the worker purges what this job stored
            return
        track = session.get(Track, track_id)
        if track is not None and track.revision == revision:
            previous = [r for r in media.renditions if r.track_id == track_id]
            for old in previous:
                media.renditions.remove(old)
            label(track, rendition)
            media.renditions.append(rendition)
            track.status, track.error = TrackStatus.AVAILABLE, None
            session.flush()
            ready = "video.media.subtitle.generated.ready" if track.generated else "video.media.track.ready"
            emit_media(session, ready, media)
            emit_media(session, "video.media.updated", media)
            unused = [old.name for old in previous]
    for name in unused:
        rt.storage.delete_prefix(rendition_prefix(media_id, name))


def give_up(session: Session, job: Job, params: TrackParams, error: str) -> None:
    """The track shows `failed` with the reason; whatever rendition it had plays on."""
    media = session.get(Media, job.media_id)
    track = session.get(Track, params.track)
    if media is None or track is None or track.revision != params.revision:
        return
    track.status, track.error = TrackStatus.FAILED, error
    session.flush()
    emit_media(session, "video.media.updated", media)


STEP = Step(TrackParams, run, give_up)
