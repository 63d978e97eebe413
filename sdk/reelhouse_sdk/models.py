"""Typed request bodies and responses of the wire contract.

Responses tolerate fields they do not know (a newer server), parse timestamps to `datetime`, `duration` to
seconds (`"183.04"` or FastPix's `"00:03:03"`), and known enum values to enums while keeping unknown ones as
strings. Request bodies accept camelCase or snake_case keys and refuse unknown ones, so a typo fails before
any request is sent.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer
from pydantic.alias_generators import to_camel

T = TypeVar("T")


class MediaStatus(StrEnum):
    CREATED = "Created"
    DOWNLOADING = "Downloading"
    DOWNLOADED = "Downloaded"
    VALIDATING = "Validating"
    IN_QUEUE = "In Queue"
    PROCESSING = "Processing"
    READY = "Ready"
    FAILED = "Failed"


class AccessPolicy(StrEnum):
    PUBLIC = "public"
    PRIVATE = "private"
    DRM = "drm"


def _seconds(value: Any) -> Any:
    """`"183.04"`, `183.04` or `"00:03:03"` -> seconds."""
    if isinstance(value, str) and ":" in value:
        total = 0.0
        for part in value.split(":"):
            total = total * 60 + float(part)
        return total
    return value


Seconds = Annotated[float, BeforeValidator(_seconds)]


class Response(BaseModel):
    """Base of response models: camelCase on the wire, snake_case in Python, unknown fields kept."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")


class Request(BaseModel):
    """Base of request bodies: either key style in, camelCase out, unknown keys refused. A field left unset is
    left out; one set to None explicitly is sent as `null` (`{"events": None}` means every event again)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    @model_serializer(mode="wrap")
    def _without_unset_nones(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        for name, info in type(self).model_fields.items():
            if name not in self.model_fields_set and getattr(self, name) is None:
                data.pop(info.alias or name, None)
                data.pop(name, None)
        return data

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


# --- responses -------------------------------------------------------------------------------------------

class RestrictionRules(Response):
    default_policy: Literal["allow", "deny"] | str = "allow"
    allow: list[str] = Field(default_factory=list)
    deny: list[str] = Field(default_factory=list)


class AccessRestrictions(Response):
    domains: RestrictionRules | None = None
    user_agents: RestrictionRules | None = None


class PlaybackId(Response):
    id: str | None = None
    access_policy: AccessPolicy | str | None = None
    access_restrictions: AccessRestrictions | None = None
    resolution: str | None = None


class Track(Response):
    id: str | None = None
    type: str
    status: str | None = None
    width: int | None = None
    height: int | None = None
    frame_rate: str | None = None
    language_code: str | None = None
    language_name: str | None = None
    title: str | None = None
    closed_captions: bool | None = None
    url: str | None = None
    error: str | None = None


class GeneratedSubtitle(Response):
    id: str | None = None
    status: str | None = None
    language_code: str | None = None
    language_name: str | None = None
    error: str | None = None


class Insight(Response):
    status: str
    data: str | dict | None = None
    error: str | None = None


class Mp4Rendition(Response):
    type: str
    status: str
    width: int | None = None
    height: int | None = None
    ext: str | None = None


class Media(Response):
    id: str
    workspace_id: str | None = None
    status: MediaStatus | str
    thumbnail: str | None = None
    title: str | None = None
    creator_id: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    media_quality: str | None = None
    max_resolution: str | None = None
    source_resolution: str | None = None
    source_access: bool | None = None
    optimize_audio: bool | None = None
    mp4_support: list[Mp4Rendition] | str | None = None
    playback_ids: list[PlaybackId] = Field(default_factory=list)
    tracks: list[Track] = Field(default_factory=list)
    generated_subtitles: list[GeneratedSubtitle] = Field(default_factory=list)
    summary: Insight | None = None
    chapters: Insight | None = None
    is_audio_only: bool | None = None
    subtitle_available: bool | None = None
    duration: Seconds | None = None
    frame_rate: str | None = None
    aspect_ratio: str | None = None
    upload_id: str | None = None
    error: str | None = None
    inputs: list[dict[str, Any]] | None = None
    trial: bool | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class Upload(Response):
    upload_id: str
    status: str
    url: str | None = None
    timeout: int | None = None
    cors_origin: str | None = None
    push_media_settings: dict[str, Any] | None = None
    media_id: str | None = None
    trial: bool | None = None
    max_resolution: str | None = None
    access_policy: str | None = None
    metadata: dict[str, str] | None = None


class InputInfoFile(Response):
    container_format: str | None = None
    tracks: list[Track] = Field(default_factory=list)


class InputInfo(Response):
    configuration: dict[str, str | None] = Field(default_factory=dict)
    file: InputInfoFile | None = None


class AiToggle(Response):
    media_id: str
    is_summary_enabled: bool | None = None
    is_chapters_enabled: bool | None = None
    is_named_entities_enabled: bool | None = None
    is_moderation_enabled: bool | None = None


class SigningKey(Response):
    id: str
    private_key: str | None = None
    public_key: str | None = None
    signing_key_id: str | None = None
    workspace_id: str | None = None
    created_at: datetime | None = None


class Webhook(Response):
    id: str
    url: str
    events: list[str] | None = None
    enabled: bool
    disabled_reason: str | None = None
    secret: str | None = None
    previous_secret_expires_at: datetime | None = None
    created_at: datetime | None = None


class DeliveryAttempt(Response):
    number: int
    started_at: datetime
    status_code: int | None = None
    latency_ms: int | None = None
    response: str | None = None
    error: str | None = None


class Delivery(Response):
    id: str
    webhook_id: str
    event_id: str
    event_type: str
    object_type: str | None = None
    object_id: str | None = None
    status: str
    next_attempt_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    attempts: list[DeliveryAttempt] = Field(default_factory=list)


class Pagination(Response):
    total_records: int
    current_offset: int
    offset_count: int


class Envelope(Response, Generic[T]):
    """`{"success": true, "data": ...}`: `result.data` is the typed object."""

    success: bool = True
    data: T


class ListEnvelope(Response, Generic[T]):
    success: bool = True
    data: list[T]
    pagination: Pagination


class Success(Response):
    """Answer of deletes: `{"success": true}`."""

    success: bool = True


# --- requests --------------------------------------------------------------------------------------------

class RestrictionRulesRequest(Request):
    """A PATCH of the rules: what is left out keeps its stored value (a new playback id starts at `allow`)."""

    default_policy: Literal["allow", "deny"] | None = None
    allow: list[str] | None = None
    deny: list[str] | None = None


class AccessRestrictionsRequest(Request):
    domains: RestrictionRulesRequest | None = None
    user_agents: RestrictionRulesRequest | None = None


class InputRequest(Request):
    type: Literal["video", "audio", "watermark", "subtitle"]
    url: str | None = None
    start_time: float | None = None
    end_time: float | None = None
    intro_url: str | None = None
    outro_url: str | None = None
    expunge_segments: list[str] | None = None
    segments: list[dict[str, Any]] | None = None
    language_name: str | None = None
    language_code: str | None = None


class SubtitlesOption(Request):
    language_name: str | None = None
    language_code: str | None = None
    metadata: dict[str, str] | None = None


class SummaryOption(Request):
    generate: bool
    summary_length: int | None = None


class ModerationOption(Request):
    type: Literal["video", "audio", "av"]


class MediaSettings(Request):
    access_policy: Literal["public", "private", "drm"] = "public"
    access_restrictions: AccessRestrictionsRequest | None = None
    metadata: dict[str, str] | None = None
    title: str | None = None
    creator_id: str | None = None
    max_resolution: Literal["2160p", "1440p", "1080p", "720p", "480p", "360p"] | None = None
    media_quality: Literal["standard", "pro", "premium"] | None = None
    mp4_support: Literal["capped_4k", "audioOnly", "audioOnly,capped_4k"] | None = None
    source_access: bool | None = None
    optimize_audio: bool | None = None
    subtitles: SubtitlesOption | None = None
    summary: SummaryOption | None = None
    chapters: bool | None = None
    named_entities: bool | None = None
    moderation: ModerationOption | None = None
    drm_configuration_id: str | None = None


class CreateMediaRequest(MediaSettings):
    inputs: list[InputRequest]


class PushMediaSettings(MediaSettings):
    inputs: list[InputRequest] | None = None


class DirectUploadRequest(Request):
    cors_origin: str = "*"
    push_media_settings: PushMediaSettings = Field(default_factory=PushMediaSettings)
    timeout: int | None = None


class UpdateMediaRequest(Request):
    metadata: dict[str, str] | None = None
    title: str | None = None
    creator_id: str | None = None


class TrackRequest(Request):
    url: str
    type: Literal["audio", "subtitle"]
    language_code: str
    language_name: str
    title: str | None = None
    closed_captions: bool | None = None


class AddTrackRequest(Request):
    tracks: TrackRequest  # one object, despite the plural


class UpdateTrackRequest(Request):
    url: str | None = None
    language_code: str | None = None
    language_name: str | None = None
    title: str | None = None
    closed_captions: bool | None = None


class GenerateSubtitlesRequest(Request):
    language_name: str
    language_code: str
    metadata: dict[str, str] | None = None
    title: str | None = None


class UpdateMp4SupportRequest(Request):
    mp4_support: Literal["none", "capped_4k", "audioOnly", "audioOnly,capped_4k"]


class UpdateSourceAccessRequest(Request):
    source_access: bool


class CreatePlaybackIdRequest(Request):
    access_policy: Literal["public", "private", "drm"] = "public"
    access_restrictions: AccessRestrictionsRequest | None = None
    drm_configuration_id: str | None = None
    resolution: Literal["2160p", "1440p", "1080p", "720p", "480p"] | None = None


class UpdateSummaryRequest(Request):
    generate: bool
    summary_length: int | None = None


class UpdateChaptersRequest(Request):
    chapters: bool


class UpdateNamedEntitiesRequest(Request):
    named_entities: bool


class UpdateModerationRequest(Request):
    moderation: ModerationOption


class CreateWebhookRequest(Request):
    url: str
    events: list[str] | None = None
    enabled: bool | None = None


class UpdateWebhookRequest(Request):
    url: str | None = None
    events: list[str] | None = None
    enabled: bool | None = None
