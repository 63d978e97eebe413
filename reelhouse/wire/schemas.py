"""Wire models: JSON field names, enums and limits exactly as FastPix clients send and expect them.

Requests ignore keys they do not know (newer SDKs send more); enum values and limits are checked
strictly so a typo is a 422 naming the field, not a silently different behaviour.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic.alias_generators import to_camel

from reelhouse.media.compose import check_disjoint, parse_range

AccessPolicy = Literal["public", "private", "drm"]
Resolution = Literal["2160p", "1440p", "1080p", "720p", "480p", "360p"]
Mp4Support = Literal["capped_4k", "audioOnly", "audioOnly,capped_4k"]
MediaQuality = Literal["standard", "pro", "premium"]
OrderBy = Literal["asc", "desc"]
Text255 = Annotated[str, StringConstraints(max_length=255)]
Url = Annotated[str, StringConstraints(min_length=1, max_length=4096)]
# BCP 47 in shape (`it`, `en-US`, `zh-Hant-TW`); FastPix takes add/update track codes as free strings of this form.
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$", max_length=35)]
# Shown to viewers and written into playlists: one line of printable text.
Label = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f]*$")
]


def _check_metadata(value: dict[str, str]) -> dict[str, str]:
    if len(value) > 10:
        raise ValueError("at most 10 metadata keys are allowed")
    for key, item in value.items():
        if not key or len(key) > 255:
            raise ValueError("metadata keys must be 1 to 255 characters")
        if len(item) > 255:
            raise ValueError(f"metadata value for {key!r} is longer than 255 characters")
    return value


Metadata = Annotated[dict[str, str], AfterValidator(_check_metadata)]
Seconds = Annotated[float, Field(ge=0, le=86_400 * 7)]
# A clip of a media of the same workspace, as an input URL (spec 5 note, FastPix docs "clip and trim videos").
CLIP_SCHEME = "fp_mediaId://"


def _after_start(end: float | None, info: ValidationInfo) -> float | None:
    """An endTime at or before startTime would cut nothing: refused, naming endTime."""
    start = info.data.get("start_time")
    if end is not None and end <= (start or 0):
        raise ValueError("must be greater than startTime" if start else "must be greater than 0")
    return end

# An origin as browsers send it (RFC 6454): scheme://host[:port], the host a DNS name (IDNs in punycode) or a bracketed
# IPv6 address. It is sent back verbatim in Access-Control-Allow-Origin, so anything else could break the header.
_ORIGIN = re.compile(r"[a-z][a-z0-9+.-]*://([a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*"
                     r"|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?", re.IGNORECASE | re.ASCII)


def _check_origin(value: str) -> str:
    if value != "*" and not _ORIGIN.fullmatch(value):
        raise ValueError("must be * or an origin such as https://example.com or http://localhost:3000")
    return value


Origin = Annotated[str, StringConstraints(min_length=1, max_length=255), AfterValidator(_check_origin)]


class Wire(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )


# ---------------------------------------------------------------- requests


class RestrictionRules(Wire):
    default_policy: Literal["allow", "deny"] = "allow"
    allow: list[Annotated[str, StringConstraints(min_length=1, max_length=255)]] = Field(default_factory=list)
    deny: list[Annotated[str, StringConstraints(min_length=1, max_length=255)]] = Field(default_factory=list)


class AccessRestrictions(Wire):
    domains: RestrictionRules = Field(default_factory=RestrictionRules)
    user_agents: RestrictionRules = Field(default_factory=RestrictionRules)


# The spoken languages FastPix generates subtitles in at create time, and their names when the request gives none.
# `auto` (reelhouse's addition, also what an absent languageCode means) has the spoken language detected; the track
# then takes the detected language's code and name.
AUTO_SUBTITLE_LANGUAGES = {"en": "English", "it": "Italian", "pl": "Polish", "es": "Spanish", "fr": "French",
                           "ru": "Russian", "nl": "Dutch", "auto": "Detected language"}
# BCP 47 codes a generate-subtitles request may name (spec section 10).
SpeechLanguage = Literal[
    "ar-SA", "bn-BD", "bn-IN", "ca-ES", "cs-CZ", "da-DK", "de-AT", "de-CH", "de-DE", "el-GR", "en-AU", "en-CA", "en-GB",
    "en-IE", "en-IN", "en-NZ", "en-US", "en-ZA", "es-AR", "es-CL", "es-CO", "es-ES", "es-MX", "es-US", "fi-FI", "fr-BE",
    "fr-CA", "fr-CH", "fr-FR", "he-IL", "hi-IN", "hr-HR", "hu-HU", "id-ID", "it-CH", "it-IT", "ja-JP", "ko-KR", "ms-MY",
    "nb-NO", "nl-BE", "nl-NL", "no-NO", "pl-PL", "pt-BR", "pt-PT", "ro-RO", "ru-RU", "sk-SK", "sv-SE", "ta-IN", "ta-LK",
    "te-IN", "th-TH", "tr-TR", "uk-UA", "vi-VN", "bg-BG", "zh-CN", "zh-HK", "zh-TW",
]  # fmt: skip
SummaryLength = Annotated[int, Field(ge=30, le=250)]  # words


class SubtitlesOption(Wire):
    """Subtitles generated from the original audio once the media is Ready, in the language it is spoken in."""

    language_name: Label | None = None
    metadata: Metadata | None = None
    language_code: Literal["en", "it", "pl", "es", "fr", "ru", "nl", "auto"] = "auto"


class SummaryOption(Wire):
    generate: bool
    summary_length: SummaryLength = 100


class ModerationOption(Wire):
    type: Literal["video", "audio", "av"]  # what is shown, what is said, or both


Percent = Annotated[str, StringConstraints(pattern=r"^(100|[0-9]{1,2})(\.[0-9]+)?%$")]  # "25%", "12.5%"


def percent(value: str | None) -> float | None:
    """A `Percent` as a fraction of one."""
    return None if value is None else float(value.rstrip("%")) / 100


class Placement(Wire):
    x_align: Literal["left", "center", "right"] = "right"
    x_margin: Percent | None = None
    y_align: Literal["top", "middle", "bottom"] = "bottom"
    y_margin: Percent | None = None


class Segment(Wire):
    """A video spliced into the main one at `insertAt` seconds of its own clock, or after it (`insertAtEnd`)."""

    url: Url
    insert_at: Annotated[int, Field(ge=0)] | None = None
    insert_at_end: bool | None = None

    @model_validator(mode="after")
    def _one_place(self) -> Segment:
        if (self.insert_at is None) == (not self.insert_at_end):
            raise ValueError("give either insertAt (seconds) or insertAtEnd: true")
        return self


class ImposeTrack(Wire):
    """Audio mixed over [startTime, endTime) seconds of the video, faded in and out over fadeIn/OutLevel seconds."""

    url: Url
    start_time: Annotated[int, Field(ge=0)] = 0
    end_time: Annotated[int, Field(gt=0)]
    fade_in_level: Annotated[int, Field(ge=0)] = 0
    fade_out_level: Annotated[int, Field(ge=0)] = 0

    _end_after_start = field_validator("end_time")(_after_start)


def _expunge_ranges(value: list[str] | None) -> list[str] | None:
    """Each "start-end" well formed, and no two overlapping: cutting the same second twice is a mistake."""
    if value is not None:
        check_disjoint([parse_range(item) for item in value])
    return value


# The create-time transforms an input may ask for, each announced by `video.media.<name>.ready` once Ready.
TRANSFORMS = ("intro", "outro", "expungeSegments", "splicing", "watermark", "audioSwap", "imposeTracks")


class Input(Wire):
    """One entry of `inputs` (spec 7.1): the video (with its trim and transforms), a watermark image, audio to
    swap in or impose, or a subtitle file."""

    type: Literal["video", "audio", "watermark", "subtitle"]
    url: Url | None = None
    start_time: Seconds | None = None
    end_time: Seconds | None = None
    intro_url: Url | None = None
    outro_url: Url | None = None
    expunge_segments: Annotated[list[str], AfterValidator(_expunge_ranges), Field(min_length=1, max_length=100)] | None = None
    segments: Annotated[list[Segment], Field(min_length=1, max_length=20)] | None = None
    placement: Placement | None = None
    width: Percent | None = None
    height: Percent | None = None
    opacity: Percent | None = None
    swap_track_url: Url | None = None
    impose_tracks: Annotated[list[ImposeTrack], Field(min_length=1, max_length=10)] | None = None
    language_name: Label | None = None
    language_code: LanguageCode | None = None

    _end_after_start = field_validator("end_time")(_after_start)

    @model_validator(mode="after")
    def _needs(self) -> Input:
        if self.type == "subtitle" and not (self.url and self.language_code and self.language_name):
            raise ValueError("a subtitle input needs url, languageCode and languageName")
        if self.type == "watermark" and not self.url:
            raise ValueError("a watermark input needs the url of an image")
        if self.type == "audio" and not (self.swap_track_url or self.impose_tracks):
            raise ValueError("an audio input needs swapTrackUrl or imposeTracks")
        return self

    def unsupported(self) -> str | None:
        """Why this input cannot be honoured as given, or None. Refusing is better than silently ignoring."""
        if self.type != "video" and (self.start_time is not None or self.end_time is not None):
            return "startTime/endTime apply to the video input only"
        return None

    def transforms(self) -> list[str]:
        """The `TRANSFORMS` this input asks for."""
        if self.type == "watermark":
            return ["watermark"]
        if self.type == "audio":
            return ["audioSwap"] * bool(self.swap_track_url) + ["imposeTracks"] * bool(self.impose_tracks)
        if self.type != "video":
            return []
        asked = (self.intro_url, self.outro_url, self.expunge_segments, self.segments)
        return [name for name, value in zip(TRANSFORMS, asked, strict=False) if value]

    def urls(self) -> list[tuple[str, str]]:
        """(field, url) of every file this input pulls besides the main video, for the caller to check."""
        found = [(to_camel(name), getattr(self, name)) for name in ("intro_url", "outro_url", "swap_track_url")]
        if self.type in ("watermark", "subtitle"):
            found.append(("url", self.url))
        found += [(f"segments.{n}.url", s.url) for n, s in enumerate(self.segments or [])]
        found += [(f"imposeTracks.{n}.url", t.url) for n, t in enumerate(self.impose_tracks or [])]
        return [(name, url) for name, url in found if url]


class MediaSettings(Wire):
    """What create-media and direct-upload share: how the resulting media is built and played."""

    access_policy: AccessPolicy
    access_restrictions: AccessRestrictions | None = None
    metadata: Metadata = Field(default_factory=dict)
    title: Text255 | None = None
    creator_id: Text255 | None = None
    max_resolution: Resolution = "1080p"
    media_quality: MediaQuality = "standard"
    mp4_support: Mp4Support | None = None
    source_access: bool = False
    optimize_audio: bool = False
    subtitles: SubtitlesOption | None = None
    summary: SummaryOption | None = None
    chapters: bool | None = None
    named_entities: bool | None = None
    moderation: ModerationOption | None = None
    drm_configuration_id: str | None = None

    def unsupported(self) -> str | None:
        """Features a client may ask for that this server does not perform yet: refused rather than ignored."""
        if self.access_policy == "drm":
            return "DRM playback is not supported by this server"
        return None

    def trim(self) -> tuple[float | None, float | None]:
        """The span (startTime, endTime) of the input the media is cut from; (None, None) for all of it."""
        return None, None


def _at_most_one_watermark_and_audio(inputs: list[Input]) -> list[Input]:
    for kind in ("watermark", "audio"):
        if sum(i.type == kind for i in inputs) > 1:
            raise ValueError(f"may hold at most one input of type {kind!r}")
    return inputs


class CreateMediaRequest(MediaSettings):
    inputs: Annotated[list[Input], Field(min_length=1)]

    @field_validator("inputs")
    @classmethod
    def _one_video_input(cls, inputs: list[Input]) -> list[Input]:
        """A field validator, so the 422 names `inputs` rather than the whole body."""
        videos = [i for i in inputs if i.type == "video"]
        if len(videos) != 1 or not videos[0].url:
            raise ValueError("must hold exactly one input of type 'video' with a url")
        return _at_most_one_watermark_and_audio(inputs)

    @property
    def video(self) -> Input:
        return next(i for i in self.inputs if i.type == "video")

    def trim(self) -> tuple[float | None, float | None]:
        return self.video.start_time, self.video.end_time


class PushMediaSettings(MediaSettings):
    """`startTime`/`endTime` trim the uploaded file, given here or on a video entry of `inputs` (which has no url)."""

    inputs: list[Input] | None = None
    start_time: Seconds | None = None
    end_time: Seconds | None = None

    _end_after_start = field_validator("end_time")(_after_start)

    @model_validator(mode="after")
    def _trim_from_inputs(self) -> PushMediaSettings:
        for item in self.inputs or []:
            if item.type == "video" and (item.start_time is not None or item.end_time is not None):
                if self.start_time is not None or self.end_time is not None:
                    raise ValueError("give startTime/endTime once: on pushMediaSettings or on its video input")
                self.start_time, self.end_time = item.start_time, item.end_time
        return self

    @field_validator("inputs")
    @classmethod
    def _inputs_of_an_upload(cls, inputs: list[Input] | None) -> list[Input] | None:
        """The uploaded file is the video: a video entry only adds its trim and transforms, so it has no url."""
        if inputs is not None:
            if any(i.type == "video" and i.url for i in inputs) or sum(i.type == "video" for i in inputs) > 1:
                raise ValueError("may hold at most one input of type 'video', without a url (the upload is the video)")
            _at_most_one_watermark_and_audio(inputs)
        return inputs

    def trim(self) -> tuple[float | None, float | None]:
        return self.start_time, self.end_time

    def stored(self) -> dict:
        """What the upload keeps until its file is in: the trim once, as startTime/endTime."""
        data = self.model_dump(exclude_none=True, exclude={"inputs"})
        if self.inputs:
            data["inputs"] = [i.model_dump(exclude_none=True, exclude={"start_time", "end_time"}) for i in self.inputs]
        return data


class DirectUploadRequest(Wire):
    cors_origin: Origin = "*"
    push_media_settings: PushMediaSettings
    timeout: Annotated[int, Field(ge=60)] | None = None


class UpdateMediaRequest(Wire):
    metadata: Metadata | None = None
    title: Text255 | None = None
    creator_id: Text255 | None = None


class TrackRequest(Wire):
    """An audio or subtitle track to add (spec 7.7); `closedCaptions` as FastPix's own fixtures send it."""

    url: Url
    type: Literal["audio", "subtitle"]
    language_code: LanguageCode
    language_name: Label
    title: Label | None = None
    closed_captions: bool = False


class AddTrackRequest(Wire):
    tracks: TrackRequest  # one object, despite the plural


class UpdateTrackRequest(Wire):
    """The SDK sends only the labels; the spec's shape adds `url`, which replaces the track's file."""

    url: Url | None = None
    language_code: LanguageCode | None = None
    language_name: Label | None = None
    title: Label | None = None
    closed_captions: bool | None = None

    @model_validator(mode="after")
    def _something(self) -> UpdateTrackRequest:
        if not self.model_fields_set:
            raise ValueError("nothing to update: send url, languageCode, languageName, title or closedCaptions")
        return self


class CreatePlaybackIdRequest(Wire):
    access_policy: AccessPolicy
    access_restrictions: AccessRestrictions | None = None
    drm_configuration_id: str | None = None
    resolution: Literal["2160p", "1440p", "1080p", "720p", "480p"] | None = None


class UpdateMp4SupportRequest(Wire):
    mp4_support: Literal[Mp4Support, "none"]


class UpdateSourceAccessRequest(Wire):
    source_access: bool


class GenerateSubtitlesRequest(Wire):
    """Subtitles by speech recognition of an audio track (spec 7.10); `languageCode` is the language spoken."""

    language_name: Label
    language_code: SpeechLanguage
    metadata: Metadata | None = None
    title: Label | None = None


class UpdateSummaryRequest(Wire):
    generate: bool
    summary_length: SummaryLength = 100


class UpdateChaptersRequest(Wire):
    chapters: bool


class UpdateNamedEntitiesRequest(Wire):
    named_entities: bool


class UpdateModerationRequest(Wire):
    moderation: ModerationOption


# ---------------------------------------------------------------- responses

T = TypeVar("T")


class Pagination(Wire):
    total_records: int
    current_offset: int
    offset_count: int


class Envelope(Wire, Generic[T]):
    success: bool = True
    data: T


class ListEnvelope(Wire, Generic[T]):
    success: bool = True
    data: list[T]
    pagination: Pagination


class SuccessOnly(Wire):
    success: bool = True


class PlaybackIdOut(Wire):
    id: str | None = None
    access_policy: AccessPolicy
    access_restrictions: AccessRestrictions
    resolution: str | None = None


class TrackOut(Wire):
    id: str | None = None
    type: Literal["video", "audio", "subtitle"]
    status: str | None = None
    width: int | None = None
    height: int | None = None
    frame_rate: str | None = None
    language_code: str | None = None
    language_name: str | None = None
    title: str | None = None
    closed_captions: bool | None = None
    url: str | None = None
    error: str | None = Field(default=None, description="why the track failed (reelhouse extension)")


class GeneratedTrackOut(Wire):
    """The subtitle track a generate-subtitles request made; `status` is a reelhouse extension."""

    id: str
    type: Literal["subtitle"] = "subtitle"
    language_code: str
    language_name: str
    title: str | None = None
    metadata: dict[str, str] | None = None
    status: str


class GeneratedSubtitleOut(Wire):
    """An entry of the media's `generatedSubtitles`: a track being (or that was) made by speech recognition."""

    id: str
    status: str
    language_code: str
    language_name: str
    error: str | None = None


class InsightOut(Wire):
    """The media's `summary`, `chapters`, `namedEntities` or `moderation` record (spec 6.1 notes): `data` once ready; `error` (a reelhouse
    extension) says why there is none, e.g. too little speech."""

    status: Literal["preparing", "ready", "failed"]
    data: str | dict | None = None
    error: str | None = None


class SummaryToggleOut(Wire):
    media_id: str
    is_summary_enabled: bool


class ChaptersToggleOut(Wire):
    media_id: str
    is_chapters_enabled: bool


class NamedEntitiesToggleOut(Wire):
    media_id: str
    is_named_entities_enabled: bool


class ModerationToggleOut(Wire):
    media_id: str
    is_moderation_enabled: bool


class Mp4SupportOut(Wire):
    """One requested MP4/M4A rendition; Media carries a list of them (spec section 4, hazard 2)."""

    type: Literal["capped_4k", "audioOnly"]
    status: Literal["preparing", "ready", "failed"]
    width: int | None = None
    height: int | None = None
    ext: Literal["mp4", "m4a"]


class MediaOut(Wire):
    id: str
    workspace_id: str
    source_media_id: str | None = Field(default=None, description="the media this one is a clip of")
    status: str
    thumbnail: str | None = None
    title: str | None = None
    creator_id: str | None = None
    metadata: dict[str, str]
    media_quality: str
    max_resolution: str
    source_resolution: str | None = None
    source_access: bool
    optimize_audio: bool
    mp4_support: list[Mp4SupportOut] | None = None
    playback_ids: list[PlaybackIdOut]
    tracks: list[TrackOut]
    generated_subtitles: list[GeneratedSubtitleOut] = Field(default_factory=list)
    summary: InsightOut | None = None
    chapters: InsightOut | None = None
    named_entities: InsightOut | None = None
    moderation: InsightOut | None = None
    is_audio_only: bool
    subtitle_available: bool = False
    duration: str | None = None
    frame_rate: str | None = None
    aspect_ratio: str | None = None
    upload_id: str | None = None
    error: str | None = Field(default=None, description="why the media Failed (reelhouse extension)")
    created_at: str
    updated_at: str

    @model_serializer(mode="wrap")
    def _unknown_source_resolution_is_null(self, handler: SerializerFunctionWrapHandler) -> dict:
        """`sourceResolution` stays in as null while unknown (not probed yet, failed, audio only): left out, the
        official SDK would fill in its default "1080p" and tell the user a size the source does not have."""
        data = handler(self)
        data.setdefault("sourceResolution", None)
        return data


class CreatedMediaOut(Wire):
    id: str
    trial: bool = False
    status: str
    created_at: str
    updated_at: str
    playback_ids: list[PlaybackIdOut]
    metadata: dict[str, str]
    max_resolution: Resolution
    media_quality: str
    inputs: list[dict]
    optimize_audio: bool
    source_access: bool


class UploadOut(Wire):
    upload_id: str
    trial: bool = False
    status: str
    url: str
    timeout: int
    cors_origin: str
    push_media_settings: dict
    media_id: str | None = None


class CancelledUploadOut(Wire):
    upload_id: str
    trial: bool = False
    status: str
    url: str
    timeout: int
    cors_origin: str
    max_resolution: str
    access_policy: str
    metadata: dict[str, str]


class InputInfoFile(Wire):
    container_format: str
    tracks: list[TrackOut]


class InputInfoOut(Wire):
    configuration: dict[str, str | None]
    file: InputInfoFile | None = None


class CreatedSigningKeyOut(Wire):
    id: str
    private_key: str  # base64 of the PEM; shown once, never stored
    created_at: str


class SigningKeyOut(Wire):
    id: str
    created_at: str


class SigningKeyDetailOut(Wire):
    id: str
    signing_key_id: str
    workspace_id: str
    public_key: str  # base64 of the PEM, like the private key
    created_at: str


class DrmConfigurationOut(Wire):
    id: str


# ---------------------------------------------------------------- playlists (spec 7.22)

PlayOrder = Literal["createdDate ASC", "createdDate DESC"]
Description = Annotated[str, StringConstraints(max_length=1000)]


def _instant(value: str) -> str:
    """A date (`2024-11-30`) or an ISO 8601 date-time, checked here and stored as sent."""
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("must be a date (YYYY-MM-DD) or an ISO 8601 date-time") from None
    return value


Instant = Annotated[str, AfterValidator(_instant)]


class DateRange(Wire):
    start_date: Instant | None = None
    end_date: Instant | None = None


class PlaylistFilters(Wire):
    """What a smart playlist holds: the media created (and/or updated) within these ranges."""

    created_date: DateRange | None = None
    updated_date: DateRange | None = None


class CreatePlaylistRequest(Wire):
    name: Label
    reference_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
    type: Literal["manual", "smart"]
    description: Description | None = None
    play_order: PlayOrder = "createdDate ASC"
    limit: Annotated[int, Field(ge=1, le=1000)] = 1000
    metadata: PlaylistFilters | None = None

    @model_validator(mode="after")
    def _smart_needs_a_filter(self) -> CreatePlaylistRequest:
        if self.type == "smart":
            ranges = [r for r in (self.metadata.created_date, self.metadata.updated_date) if r] if self.metadata else []
            if not any(r.start_date or r.end_date for r in ranges):
                raise ValueError("a smart playlist needs metadata.createdDate or metadata.updatedDate with a "
                                 "startDate or endDate")
        return self


class UpdatePlaylistRequest(Wire):
    name: Label
    description: Description


class MediaIdsRequest(Wire):
    media_ids: Annotated[list[str], Field(min_length=1, max_length=1000)]


class PlaylistMediaOut(Wire):
    id: str
    status: str
    thumbnail: str | None = None
    duration: str | None = None
    source_resolution: str | None = None
    created_at: str


class PlaylistOut(Wire):
    id: str
    name: str
    reference_id: str
    type: Literal["manual", "smart"]
    description: str | None = None
    play_order: PlayOrder
    limit: int
    metadata: PlaylistFilters | None = None
    media_list: list[PlaylistMediaOut]
    media_count: int
    workspace_id: str
    created_at: str
    updated_at: str


class PlaylistSummaryOut(Wire):
    id: str
    name: str
    type: Literal["manual", "smart"]
    reference_id: str
    created_at: str
    media_count: int
