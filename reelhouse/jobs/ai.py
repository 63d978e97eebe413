"""The `speech`, `summary`, `chapters`, `named-entities` and `moderation` steps: a thin layer over `reelhouse.ai`.

`speech` makes a generated subtitle track: it transcribes the track's audio and publishes the cues through the
tracks machinery (`tracks.make`), so the subtitles play like any added track. The others work from the original
audio's transcript, and `video`/`av` moderation from frames sampled across the original's video too. Every step
reads the stored transcript of its audio track when there is one and otherwise transcribes and stores it, so a
media is transcribed once whichever step comes first. What the engine cannot do (an unknown language, no audio,
too little speech, a missing model) is a permanent failure whose message the track or the media's record shows.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import TypeAdapter
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from reelhouse.ai import chapters, entities, languages, models, moderation, nudity, speech, summary, transcript
from reelhouse.catalog import insights
from reelhouse.catalog.tracks import rendition_name
from reelhouse.db.enums import InsightKind, InsightStatus
from reelhouse.db.models import Insight, Job, Media, Track, Transcript
from reelhouse.jobs import tracks
from reelhouse.jobs.params import InsightParams, TrackParams
from reelhouse.jobs.step import JobContext, PermanentError, Step
from reelhouse.media import frames, hls
from reelhouse.media.ffmpeg import FFmpegError
from reelhouse.media.probe import ProbeError
from reelhouse.settings import Settings
from reelhouse.storage.keys import original_key, rendition_prefix
from reelhouse.webhooks.events import emit_media

TRANSCRIPT = TypeAdapter(transcript.Transcript)


def run_speech(ctx: JobContext[TrackParams]) -> None:
    tracks.make(ctx, _generated_subtitles)


def _generated_subtitles(
    ctx: JobContext[TrackParams], media: Media, track: Track, timeline: hls.MediaPlaylist, folder: Path
) -> str:
    """The track's cues from what its audio says; silence gives a subtitle track without cues, never invented words."""
    words = _transcript(ctx, media.id, track.source_track_id, track.language_code)
    if speech.is_auto(track.language_code):
        _name_detected_language(ctx, track.id, words.language)
    text = speech.webvtt(speech.cues(words))
    return tracks.segment_subtitles(tracks.subtitle_cues(text.encode(), timeline), folder, timeline)


def _name_detected_language(ctx: JobContext[TrackParams], track_id: str, language: str) -> None:
    """A track asked for in the `auto` language takes the code and English name of the language it turned out to be,
    unless the media got a subtitle track in that language meanwhile: one track per language, as the API keeps it
    (the other one says the same words, from the same transcript), so this one fails saying why."""
    with ctx.runtime.db.write() as session:
        track = session.get(Track, track_id)
        if track is None:
            return
        taken = session.scalar(select(Track.id).where(
            Track.media_id == track.media_id, Track.type == track.type, Track.id != track.id,
            func.lower(Track.language_code) == language))
        if taken is not None:
            raise PermanentError(f"the speech is {languages.name(language)} ({language}), and the media already has "
                                 f"a subtitle track in {language!r}")
        track.language_code = language
        track.language_name = languages.name(language)


def run_insight(ctx: JobContext[InsightParams]) -> None:
    rt = ctx.runtime
    kind, params = InsightKind(ctx.job.kind), ctx.params
    with rt.db.read() as session:
        media = session.get(Media, ctx.media_id)
        if media is None or _wanted(media, kind, params) is None:
            return
        has_video = any(t.type == "video" for t in media.tracks)
    duration = media.duration or 0.0
    try:
        if kind == InsightKind.MODERATION:
            data = _moderation(ctx, params.moderation or "audio", duration, has_video)
        else:
            data = _insight_data(kind, params.length, _transcript(ctx, media.id, None, None), duration, rt.settings)
    except (transcript.NoSpeechError, entities.UnsupportedLanguageError, entities.EntityModelError,
            moderation.UnsupportedLanguageError, nudity.ImageModelError) as exc:
        raise PermanentError(str(exc)) from None
    with rt.db.write() as session:
        _record(session, media.id, kind, params, InsightStatus.READY, data=data)


def _insight_data(kind: InsightKind, length: int | None, words: transcript.Transcript, duration: float,
                  settings: Settings) -> object:
    if kind == InsightKind.SUMMARY:
        return summary.summarize(words.text, length, settings, language=words.language)
    if kind == InsightKind.CHAPTERS:  # over the media's whole timeline, which may run on past its audio
        found = chapters.chapters(dataclasses.replace(words, duration=max(words.duration, duration)))
        return {"chapters": [{"start": round(c.start, 3), "end": round(c.end, 3), "title": c.title} for c in found]}
    return {"entities": [dataclasses.asdict(e) for e in entities.entities(words)]}


def _moderation(ctx: JobContext[InsightParams], kind: str, duration: float, has_video: bool) -> object:
    """`video`: sampled frames scored; `audio`: the transcript scored; `av`: both, in one result."""
    if kind == "audio":
        return moderation.moderate(_transcript(ctx, ctx.media_id, None, None)).wire(kind)
    if not has_video:
        raise PermanentError(f"the media has no video to moderate; ask for 'audio' moderation instead of {kind!r}")
    step = frames.interval(duration)
    probabilities = _frame_scores(ctx, step, duration)
    shown = moderation.frames(probabilities, step, duration)
    sampled = {"frames": len(probabilities), "interval": round(step, 3)}
    if kind == "video":
        return shown.wire(kind, **sampled)
    said = moderation.moderate(_transcript(ctx, ctx.media_id, None, None))
    return moderation.combine(shown, said).wire(kind, **sampled)


def _frame_scores(ctx: JobContext[InsightParams], step: float, duration: float) -> list[float]:
    """How likely each frame sampled `step` seconds apart from the original is explicit."""
    rt = ctx.runtime
    raw = ctx.scratch / "frames.bgr"
    with rt.storage.as_local_file(original_key(ctx.media_id), ctx.scratch) as source:
        ctx.ffmpeg(frames.sample_args(source, raw, step=step), duration=duration, work=1.0,
                   what="the video could not be read")
    count = raw.stat().st_size // frames.FRAME_BYTES if raw.exists() else 0
    if count == 0:
        raise PermanentError("no frame of the video could be read")
    pixels = np.memmap(raw, dtype=np.uint8, mode="r", shape=(count, frames.CROP, frames.CROP, 3))
    return nudity.scores(pixels)


def give_up_insight(session: Session, job: Job, params: InsightParams, error: str) -> None:
    """The media's record shows `failed` with the reason, e.g. that it says too little to summarise."""
    if job.media_id is not None:
        _record(session, job.media_id, InsightKind(job.kind), params, InsightStatus.FAILED, error=error)


def _wanted(media: Media, kind: InsightKind, params: InsightParams) -> Insight | None:
    """The insight this job makes, while it is still asked for as the job was queued."""
    if kind == InsightKind.MODERATION and (params.moderation or "audio") != insights.moderation_type(media):
        return None  # another type asked for since
    return next((i for i in media.insights
                 if i.kind == kind and i.length == params.length and i.status == InsightStatus.PREPARING), None)


def _record(session: Session, media_id: str, kind: InsightKind, params: InsightParams, status: InsightStatus, *,
            data: object = None, error: str | None = None) -> None:
    media = session.get(Media, media_id)
    insight = _wanted(media, kind, params) if media is not None else None
    if media is None or insight is None:  # deleted, turned off or asked for again differently meanwhile
        return
    insight.status, insight.data, insight.error = status, data, error
    session.flush()
    if status == InsightStatus.READY:
        emit_media(session, f"video.mediaAI.{kind}.ready", media)
    emit_media(session, "video.media.updated", media)


def _transcript(
    ctx: JobContext[Any], media_id: str, audio_id: str | None, language_code: str | None
) -> transcript.Transcript:
    """What an audio track (None: the original's) says in `language_code` (None: any stored transcript, else the
    language the `subtitles` option names; `auto`: detected): the stored transcript, or a new one, stored under
    the language it is in."""
    rt = ctx.runtime
    with rt.db.read() as session:
        media = session.get(Media, media_id)
        if media is None:
            raise PermanentError("the media was deleted")
        audio = _audio(media, audio_id)
        language_code = language_code or _stored_language(session, audio) or _spoken_language(media)
        language = _primary(language_code) if not speech.is_auto(language_code) else None
        stored = session.scalar(select(Transcript.data).where(
            Transcript.track_id == audio.id, Transcript.revision == audio.revision,
            *([Transcript.language == language] if language else [])).order_by(Transcript.created_at))
        if stored is not None:
            return TRANSCRIPT.validate_json(stored)
        rendition = rendition_name(audio.id, audio.revision)  # an added track's current file
        published = any(r.name == rendition for r in media.renditions)
    path = ctx.scratch / "speech.flac"
    if audio.stream_index is not None:
        with rt.storage.as_local_file(original_key(media.id), ctx.scratch) as source:
            _extract(ctx, source, f"0:{audio.stream_index}", path, media.duration or 0.0)
    elif published:
        _extract(ctx, _join_rendition(ctx, media.id, rendition), "0:a:0", path, media.duration or 0.0)
    else:
        raise PermanentError("the audio track's current file is not playable yet")
    try:
        words = speech.transcribe(path, language_code, rt.settings)
    except (speech.UnsupportedLanguageError, transcript.NoSpeechError, models.ModelError, ProbeError,
            FFmpegError) as exc:
        raise PermanentError(str(exc)) from None
    with rt.db.write() as session:
        if session.get(Track, audio.id) is not None:  # not deleted meanwhile
            session.execute(delete(Transcript).where(Transcript.track_id == audio.id,
                                                     Transcript.language == words.language))
            session.add(Transcript(track_id=audio.id, revision=audio.revision, language=words.language,
                                   data=TRANSCRIPT.dump_json(words).decode()))
    return words


def _audio(media: Media, audio_id: str | None) -> Track:
    audios = [t for t in media.tracks if t.type == "audio"]
    audio = next((t for t in audios if t.id == audio_id), None) if audio_id else audios[0] if audios else None
    if audio is None:
        raise PermanentError("the audio track was deleted" if audio_id else "the media has no audio to transcribe")
    return audio


def _stored_language(session: Session, audio: Track) -> str | None:
    """The language of a transcript the audio track already has, so a summary reuses what subtitles made."""
    return session.scalar(select(Transcript.language).where(
        Transcript.track_id == audio.id, Transcript.revision == audio.revision).order_by(Transcript.created_at))


def _spoken_language(media: Media) -> str:
    """The language the `subtitles` option names, else `auto`: whichever is spoken."""
    return (media.options.get("subtitles") or {}).get("languageCode") or speech.AUTO


def _primary(language_code: str) -> str:
    return language_code.split("-")[0].lower()


def _join_rendition(ctx: JobContext[Any], media_id: str, name: str) -> Path:
    """An added audio track's published rendition as one fragmented MP4: its init segment, then its media segments."""
    rt = ctx.runtime
    prefix = rendition_prefix(media_id, name)
    playlist = hls.parse_media_playlist(rt.storage.read(f"{prefix}/index.m3u8").decode())
    joined = ctx.scratch / "track.mp4"
    with joined.open("wb") as out:
        for uri in [*([playlist.init] if playlist.init else []), *(uri for uri, _ in playlist.segments)]:
            out.writelines(rt.storage.stream(f"{prefix}/{uri}"))
    return joined


def _extract(ctx: JobContext[Any], source: Path, stream: str, dest: Path, duration: float) -> None:
    """One audio stream as 16 kHz mono FLAC, what Whisper listens to, small enough to keep in scratch."""
    args = ["-y", "-i", str(source), "-map", stream, "-vn", "-ac", "1", "-ar", str(speech.SAMPLE_RATE), "-c:a", "flac",
            str(dest)]
    ctx.ffmpeg(args, duration=duration, work=0.1, what="the audio could not be read")


SPEECH = Step(TrackParams, run_speech, tracks.give_up)
INSIGHT = Step(InsightParams, run_insight, give_up_insight)
