"""Database rows: the single source of truth for media, uploads, tokens and jobs.

Every row a client can reach carries `workspace_id`; queries always filter on it, so one workspace's
token can never read or learn of another's objects.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from reelhouse.db.enums import DeliveryStatus, InsightStatus, JobStatus, MediaStatus, TrackStatus, UploadStatus


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    """Naive UTC: SQLite keeps no time zone, so every timestamp is stored and compared as naive UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: DateTime()}


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Workspace(Base):
    __tablename__ = "workspaces"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AccessToken(Base):
    __tablename__ = "access_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]

    workspace: Mapped[Workspace] = relationship()


class ServerSecret(Base):
    """Server-wide secrets (e.g. the upload URL signing key), kept in the database so every API node shares them."""

    __tablename__ = "server_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)  # Text: a workspace's share-link key is a PEM private key


class Upload(Timestamps, Base):
    __tablename__ = "uploads"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=UploadStatus.WAITING)
    cors_origin: Mapped[str] = mapped_column(String(255), default="*")
    timeout: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime]
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)  # pushMediaSettings, validated
    session_id: Mapped[str | None] = mapped_column(String(36))
    total_size: Mapped[int | None] = mapped_column(BigInteger)
    committed: Mapped[int] = mapped_column(BigInteger, default=0)
    # The committed parts in byte order, [{"offset", "key"}]: ingest joins these and nothing else stored beside
    # them. None for uploads begun before they were recorded, whose parts are the ones listed in storage.
    parts: Mapped[list[Any] | None] = mapped_column(JSON, default=list)

    media: Mapped[Media | None] = relationship(back_populates="upload")


class Media(Timestamps, Base):
    __tablename__ = "media"
    # The dashboard's library lists a workspace's media newest first, by status, or by title, a page at a time:
    # each order is an index walk, not a sort of the whole workspace.
    __table_args__ = (
        Index("ix_media_workspace_created", "workspace_id", "created_at", "id"),
        Index("ix_media_workspace_status_created", "workspace_id", "status", "created_at", "id"),
        Index("ix_media_workspace_title", "workspace_id", "title", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    upload_id: Mapped[str | None] = mapped_column(ForeignKey("uploads.id"), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=MediaStatus.CREATED)
    error: Mapped[str | None] = mapped_column(Text)  # why the media Failed, readable by people

    title: Mapped[str | None] = mapped_column(String(255))
    creator_id: Mapped[str | None] = mapped_column(String(255))
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    max_resolution: Mapped[str] = mapped_column(String(8), default="1080p")
    media_quality: Mapped[str] = mapped_column(String(16), default="standard")
    source_access: Mapped[bool] = mapped_column(Boolean, default=False)
    optimize_audio: Mapped[bool] = mapped_column(Boolean, default=False)
    mp4_support: Mapped[str | None] = mapped_column(String(32))
    inputs: Mapped[list[Any]] = mapped_column(default=list)  # echoed back as sent
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)  # subtitles/summary/chapters/... as requested
    source_url: Mapped[str | None] = mapped_column(Text)
    # A clip: the span [clip_start, clip_end) in seconds of its input (a URL, an upload or `source_media_id`'s
    # original), cut once at ingest into an original of its own, so the clip outlives its source.
    source_media_id: Mapped[str | None] = mapped_column(String(36), index=True)  # no foreign key: see above
    clip_start: Mapped[float | None] = mapped_column(Float)
    clip_end: Mapped[float | None] = mapped_column(Float)

    # Filled by probing the stored original.
    container_format: Mapped[str | None] = mapped_column(String(32))
    duration: Mapped[float | None] = mapped_column(Float)
    width: Mapped[int | None]
    height: Mapped[int | None]
    frame_rate: Mapped[str | None] = mapped_column(String(16))
    aspect_ratio: Mapped[str | None] = mapped_column(String(16))
    is_audio_only: Mapped[bool] = mapped_column(Boolean, default=False)

    upload: Mapped[Upload | None] = relationship(back_populates="media")
    playback_ids: Mapped[list[PlaybackId]] = relationship(
        cascade="all, delete-orphan", order_by="PlaybackId.created_at", passive_deletes=True
    )
    tracks: Mapped[list[Track]] = relationship(  # the source's own first, in stream order, then added ones
        cascade="all, delete-orphan", order_by=lambda: [Track.stream_index.is_(None), Track.position],
        passive_deletes=True,
    )
    renditions: Mapped[list[Rendition]] = relationship(
        cascade="all, delete-orphan", order_by="Rendition.created_at", passive_deletes=True
    )
    downloads: Mapped[list[Download]] = relationship(cascade="all, delete-orphan", passive_deletes=True)
    insights: Mapped[list[Insight]] = relationship(cascade="all, delete-orphan", passive_deletes=True)


class PlaybackId(Base):
    __tablename__ = "playback_ids"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    media_id: Mapped[str] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"), index=True)
    access_policy: Mapped[str] = mapped_column(String(16))
    domains: Mapped[dict[str, Any]] = mapped_column(default=dict)
    user_agents: Mapped[dict[str, Any]] = mapped_column(default=dict)
    resolution: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Track(Base):
    """A stream of the media: probed from the original (`stream_index` set), an audio/subtitle track added from
    `url`, or a subtitle track generated by speech recognition from the audio track `source_track_id` (neither;
    no source means the original's audio). An added or generated track is `preparing` until the job for its
    current `revision` publishes its rendition, then `available`, or `failed` with `error`; each new `url` bumps
    `revision`, so a job for an older one is dropped."""

    __tablename__ = "tracks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    media_id: Mapped[str] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(16))  # video | audio | subtitle
    status: Mapped[str] = mapped_column(String(16), default=TrackStatus.AVAILABLE)
    position: Mapped[int] = mapped_column(Integer, default=0)
    stream_index: Mapped[int | None]  # index in the original when probed from it
    language_code: Mapped[str | None] = mapped_column(String(35))
    language_name: Mapped[str | None] = mapped_column(String(255))
    title: Mapped[str | None] = mapped_column(String(255))
    width: Mapped[int | None]
    height: Mapped[int | None]
    frame_rate: Mapped[str | None] = mapped_column(String(16))
    codec: Mapped[str | None] = mapped_column(String(32))
    url: Mapped[str | None] = mapped_column(Text)  # where an added track's file is fetched from
    closed_captions: Mapped[bool] = mapped_column(Boolean, default=False)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)  # why the track failed, readable by people
    source_track_id: Mapped[str | None] = mapped_column(String(36))  # no foreign key: the subtitles outlive their audio
    meta: Mapped[dict[str, Any] | None] = mapped_column("metadata")  # a generated track's, echoed as sent

    @property
    def generated(self) -> bool:
        return self.stream_index is None and self.url is None


class Transcript(Base):
    """What an audio track says (`reelhouse.ai.transcript.Transcript` as JSON), made once by whichever job needs it
    first, generated subtitles, a summary or chapters, and reused by the others. Keyed by the spoken language's
    primary subtag (Whisper hears no regional difference) and valid only for the track's `revision`."""

    __tablename__ = "transcripts"
    __table_args__ = (UniqueConstraint("track_id", "language"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    track_id: Mapped[str] = mapped_column(ForeignKey("tracks.id", ondelete="CASCADE"), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    language: Mapped[str] = mapped_column(String(8))
    data: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Insight(Base):
    """A summary or the chapters of what a media says, asked for by the `summary`/`chapters` options or their PATCH
    (spec 7.19); no row means not enabled. `preparing` until its job records `data` (`ready`) or why there is
    none (`failed`, e.g. too little speech); a job whose request was turned off or changed meanwhile records nothing."""

    __tablename__ = "insights"
    __table_args__ = (UniqueConstraint("media_id", "kind"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    media_id: Mapped[str] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # InsightKind
    status: Mapped[str] = mapped_column(String(16), default=InsightStatus.PREPARING)
    length: Mapped[int | None]  # summaryLength, in words
    data: Mapped[Any] = mapped_column(JSON, nullable=True)  # the summary text, or {"chapters": [...]}
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Rendition(Base):
    """A playable HLS rendition under `media/<id>/hls/<name>/`. A row exists only once its init segment and first
    media segment are stored, and its stored playlist only ever lists stored segments, so players never ask for a
    missing one. While its encode runs the playlist grows (`complete` False); then it is final, with EXT-X-ENDLIST.
    A `replaced` one is left out of the master but still served to players that loaded it before its replacement
    was published."""

    __tablename__ = "renditions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    media_id: Mapped[str] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))  # folder name: v720, audio, ...
    type: Mapped[str] = mapped_column(String(16))  # video | audio | subtitle
    codecs: Mapped[str] = mapped_column(String(64))
    bandwidth: Mapped[int] = mapped_column(Integer)
    average_bandwidth: Mapped[int] = mapped_column(Integer)
    width: Mapped[int | None]
    height: Mapped[int | None]
    frame_rate: Mapped[float | None] = mapped_column(Float)
    duration: Mapped[float] = mapped_column(Float)  # of the segments stored so far while not `complete`
    complete: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    language: Mapped[str | None] = mapped_column(String(35))
    label: Mapped[str | None] = mapped_column(String(255))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    characteristics: Mapped[str | None] = mapped_column(String(255))  # HLS CHARACTERISTICS, e.g. closed captions
    track_id: Mapped[str | None] = mapped_column(ForeignKey("tracks.id", ondelete="CASCADE"))
    replaced: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EncodePart(Base):
    """One ffmpeg run's share of a media's renditions: the whole of them, or one chunk of a long source that any
    worker encodes while others encode the rest. `outputs` records, per rendition it writes, the segments stored so
    far ({name: {"init": sha256 of its init segment, "codecs": ..., "segments": [[uri, seconds, bytes], ...]}}); a
    rendition's playlist lists its parts' segments in order, up to the first part still running."""

    __tablename__ = "encode_parts"

    media_id: Mapped[str] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"), primary_key=True)
    step: Mapped[str] = mapped_column(String(32), primary_key=True)  # the JobKind that plans it: transcode | ladder
    index: Mapped[int] = mapped_column(Integer, primary_key=True)  # its place on the timeline
    start: Mapped[float] = mapped_column(Float, default=0.0)  # where it starts in the source: a keyframe, seconds
    first_frame: Mapped[int] = mapped_column(Integer, default=0)  # ...and on the output frame grid
    frames: Mapped[int | None] = mapped_column(Integer)  # frames it encodes; none: to the end of the source
    outputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    done: Mapped[bool] = mapped_column(Boolean, default=False)


class Download(Base):
    """The outcome of one requested MP4/M4A rendition (`mp4Support`), stored under `media/<id>/downloads/`.
    Written once its file is published (`ready`) or its job gave up (`failed`): a requested rendition
    without a row is still being prepared."""

    __tablename__ = "downloads"
    __table_args__ = (UniqueConstraint("media_id", "type"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    media_id: Mapped[str] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(16))  # capped_4k | audioOnly
    status: Mapped[str] = mapped_column(String(16))  # DownloadStatus: ready or failed
    width: Mapped[int | None]
    height: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Job(Timestamps, Base):
    """One step of the media pipeline. Claimed under a lease, so a job whose worker died is taken up again."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    key: Mapped[str] = mapped_column(String(255), unique=True)  # (media, step, params): enqueueing twice is a no-op
    kind: Mapped[str] = mapped_column(String(32), index=True)  # JobKind
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    media_id: Mapped[str | None] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"), index=True)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # A new id for each claim: it names the claim, where `attempts` starts again when the job is queued afresh.
    claim: Mapped[str | None] = mapped_column(String(36))
    run_after: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None]
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(Text)


class Webhook(Base):
    """An endpoint a workspace wants events POSTed to.

    `previous_secret` keeps signing (next to `secret`) until `previous_secret_until`, so receivers can switch
    secrets without dropping deliveries. `lease_until` lets one delivery at a time be in flight per endpoint,
    across every node, so a slow endpoint holds one delivery thread and events stay in order.
    """

    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list[Any] | None] = mapped_column(JSON)  # event types to send; None sends every type
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text)  # set when the receiver answered 410 Gone
    secret: Mapped[str] = mapped_column(String(255))  # whsec_<base64>
    previous_secret: Mapped[str | None] = mapped_column(String(255))
    previous_secret_until: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]  # not a Timestamps row: leasing it is no change worth an updatedAt
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookEvent(Base):
    """The outbox: written in the transaction that made the change, so it exists exactly when the change does."""

    __tablename__ = "webhook_events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)  # emission order
    id: Mapped[str] = mapped_column(String(36), unique=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(36))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Timestamps, Base):
    """One event owed to one endpoint: pending until the receiver answers 2xx or the retry window closes."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    webhook_id: Mapped[str] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"), index=True)
    event_seq: Mapped[int] = mapped_column(ForeignKey("webhook_events.seq", ondelete="CASCADE"), index=True)
    object_id: Mapped[str] = mapped_column(String(36))  # the event's, copied so ordering needs no join
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    retry_from: Mapped[datetime] = mapped_column(default=utcnow)  # the retry window's start; redelivery resets it

    event: Mapped[WebhookEvent] = relationship()
    log: Mapped[list[WebhookAttempt]] = relationship(
        cascade="all, delete-orphan", order_by="WebhookAttempt.number", passive_deletes=True
    )


class WebhookAttempt(Base):
    """The delivery log: one row per POST, whatever came of it."""

    __tablename__ = "webhook_attempts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int | None]
    latency_ms: Mapped[int] = mapped_column(Integer)
    response: Mapped[str | None] = mapped_column(Text)  # the first bytes of the body, for debugging receivers
    error: Mapped[str | None] = mapped_column(Text)


class SigningKey(Base):
    """A key that signs private playback tokens. Only the public half is kept: the private key is handed to
    the client once, at creation, so a leak of this table cannot mint tokens. (The dashboard's one share-link
    key per workspace keeps its private half in `server_secrets`, next to the server's other secrets.)"""

    __tablename__ = "signing_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    public_key: Mapped[str] = mapped_column(Text)  # PEM (SubjectPublicKeyInfo)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IdempotencyKey(Base):
    """A create request's `Idempotency-Key` with its first response, replayed to the same request for 24 h."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("workspace_id", "key"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 of the route and the canonical request body
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[Any] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
class User(Base):
    """A person who signs in to the dashboard; sees exactly what an access token of `workspace_id` sees."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id, in its own encoded form
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0)  # since the last success
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    workspace: Mapped[Workspace] = relationship()


class UserSession(Base):
    """A signed-in browser: the cookie holds a random secret, the row only its SHA-256 (`id`)."""

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]

    user: Mapped[User] = relationship()
class Playlist(Timestamps, Base):
    """An ordered list of media (spec 7.22): `manual` ones hold `items` in the order given; `smart` ones are the
    workspace's media created within `filters` (`createdDate`/`updatedDate` ranges), in `play_order`, at most
    `limit`, worked out whenever they are read so a new media joins without anyone adding it."""

    __tablename__ = "playlists"
    __table_args__ = (UniqueConstraint("workspace_id", "reference_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    reference_id: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(16))  # manual | smart
    description: Mapped[str | None] = mapped_column(Text)
    play_order: Mapped[str] = mapped_column(String(32), default="createdDate ASC")
    limit: Mapped[int] = mapped_column(Integer, default=1000)
    filters: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the request's `metadata`, as sent

    items: Mapped[list[PlaylistItem]] = relationship(
        cascade="all, delete-orphan", order_by="PlaylistItem.position", passive_deletes=True
    )


class PlaylistItem(Base):
    """A media's place in a manual playlist; deleting the media removes it from every playlist."""

    __tablename__ = "playlist_items"

    playlist_id: Mapped[str] = mapped_column(ForeignKey("playlists.id", ondelete="CASCADE"), primary_key=True)
    media_id: Mapped[str] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer)

    media: Mapped[Media] = relationship()
