"""The typed parameters of each kind of job, stored as the job row's JSON and part of its dedup key."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from reelhouse.db.enums import JobKind


class Params(BaseModel):
    """No parameters: the job's media says it all."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class TrackParams(Params):
    """An added or generated track, as of one revision of its file (a newer revision makes this job stale)."""

    track: str
    revision: int


class NormaliseAudioParams(Params):
    """The audio rendition whose loudness-normalised copy replaces it."""

    rendition: str


class ChunkParams(Params):
    """Which of the media's encode parts (`EncodePart.index`) the job encodes."""

    index: int


class Mp4Params(Params):
    type: str  # an `mp4.KINDS` key: capped_4k | audioOnly


class InsightParams(Params):
    length: int | None = None  # summaryLength in words; none for chapters
    moderation: str | None = None  # the moderation type (video | audio | av); none for the other insights


PARAMS: dict[JobKind, type[Params]] = {
    JobKind.INGEST: Params,
    JobKind.TRANSCODE: Params,
    JobKind.LADDER: Params,
    JobKind.CHUNK: ChunkParams,
    JobKind.LADDER_CHUNK: ChunkParams,
    JobKind.MP4: Mp4Params,
    JobKind.TRACK: TrackParams,
    JobKind.NORMALISE_AUDIO: NormaliseAudioParams,
    JobKind.SPEECH: TrackParams,
    JobKind.SUMMARY: InsightParams,
    JobKind.CHAPTERS: InsightParams,
    JobKind.NAMED_ENTITIES: InsightParams,
    JobKind.MODERATION: InsightParams,
}
