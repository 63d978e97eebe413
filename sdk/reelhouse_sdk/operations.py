"""Every API operation, defined once: a builder that checks its arguments and describes the request.

The client's namespaces (`client.manage_videos.get`, `…_async`) and the standalone functions
(`funcs.manage_videos_get`) are both made from these, so the three forms cannot drift apart. Arguments are
checked here, before anything is sent: a wrong type is a TypeError, a bad value a ValueError.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar
from urllib.parse import quote

from reelhouse_sdk import errors, models
from reelhouse_sdk._core import Operation

R = TypeVar("R", bound=models.Request)
OrderBy = Literal["asc", "desc"]

_MEDIA = {404: errors.MediaNotFoundError}
_TRACK = {404: errors.MediaNotFoundError, 400: errors.TrackDuplicateRequestError}
_MP4 = {404: errors.MediaNotFoundError, 400: errors.DuplicateMp4SupportError}


def _id(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, not {type(value).__name__}")
    if not value or len(value) > 255:
        raise ValueError(f"{name} must be 1 to 255 characters")
    return quote(value, safe="")


def _body(model: type[R], body: Any) -> dict[str, Any]:
    """A typed model or a dict (camelCase or snake_case keys) -> the wire JSON; pydantic's ValidationError
    (a ValueError) names what is wrong."""
    if isinstance(body, model):
        return body.wire()
    if not isinstance(body, dict):
        raise TypeError(f"body must be a {model.__name__} or a dict, not {type(body).__name__}")
    return model.model_validate(body).wire()


def _page(limit: Any, offset: Any, order_by: Any) -> dict[str, Any]:
    for name, value in (("limit", limit), ("offset", offset)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{name} must be an int")
    if not 1 <= limit <= 50:
        raise ValueError("limit must be between 1 and 50")
    if offset < 1:
        raise ValueError("offset is a 1-based page number")
    if order_by not in ("asc", "desc"):
        raise ValueError("order_by must be 'asc' or 'desc'")
    return {"limit": limit, "offset": offset, "orderBy": order_by}


def _key(idempotency_key: Any) -> str | None:
    if idempotency_key is not None and (not isinstance(idempotency_key, str) or not 1 <= len(idempotency_key) <= 255):
        raise ValueError("idempotency_key must be a string of 1 to 255 characters")
    return idempotency_key


# --- input_video --------------------------------------------------------------------------------------------

def input_video_create(
    *, body: models.CreateMediaRequest | dict, idempotency_key: str | None = None
) -> Operation[models.Envelope[models.Media]]:
    """Create a media from a URL (`POST /on-demand`). With `idempotency_key`, sending it again (retries
    included) within 24 h returns the first media instead of creating another."""
    return Operation("POST", "/on-demand", models.Envelope[models.Media], body=_body(models.CreateMediaRequest, body),
                     idempotency_key=_key(idempotency_key), errors=_MEDIA)


def input_video_upload(
    *, body: models.DirectUploadRequest | dict, idempotency_key: str | None = None
) -> Operation[models.Envelope[models.Upload]]:
    """Create a signed direct-upload URL (`POST /on-demand/upload`); see `client.uploads.upload_file` to send a file."""
    return Operation("POST", "/on-demand/upload", models.Envelope[models.Upload],
                     body=_body(models.DirectUploadRequest, body), idempotency_key=_key(idempotency_key))


# --- manage_videos --------------------------------------------------------------------------------------------

def manage_videos_list(
    *, limit: int = 10, offset: int = 1, order_by: OrderBy = "desc"
) -> Operation[models.ListEnvelope[models.Media]]:
    """One page of media (`offset` is the 1-based page number)."""
    return Operation("GET", "/on-demand", models.ListEnvelope[models.Media], query=_page(limit, offset, order_by))


def manage_videos_get(*, media_id: str) -> Operation[models.Envelope[models.Media]]:
    """A media by id: its status, playback ids, tracks …"""
    return Operation("GET", f"/on-demand/{_id('media_id', media_id)}", models.Envelope[models.Media], errors=_MEDIA)


def manage_videos_update(
    *, media_id: str, body: models.UpdateMediaRequest | dict
) -> Operation[models.Envelope[models.Media]]:
    """Change a media's title, creator id or metadata."""
    return Operation("PATCH", f"/on-demand/{_id('media_id', media_id)}", models.Envelope[models.Media],
                     body=_body(models.UpdateMediaRequest, body), errors=_MEDIA)


def manage_videos_delete(*, media_id: str) -> Operation[models.Success]:
    """Delete a media and everything made from it, for good."""
    return Operation("DELETE", f"/on-demand/{_id('media_id', media_id)}", models.Success, errors=_MEDIA)


def manage_videos_add_track(
    *, media_id: str, body: models.AddTrackRequest | dict
) -> Operation[models.Envelope[models.Track]]:
    """Add an audio or subtitle track from a URL: `body={"tracks": {"url", "type", "language_code", "language_name"}}`."""
    return Operation("POST", f"/on-demand/{_id('media_id', media_id)}/tracks", models.Envelope[models.Track],
                     body=_body(models.AddTrackRequest, body), errors=_TRACK)


def manage_videos_update_track(
    *, media_id: str, track_id: str, body: models.UpdateTrackRequest | dict
) -> Operation[models.Envelope[models.Track]]:
    """Change a track's url, language or title."""
    path = f"/on-demand/{_id('media_id', media_id)}/tracks/{_id('track_id', track_id)}"
    return Operation("PATCH", path, models.Envelope[models.Track], body=_body(models.UpdateTrackRequest, body),
                     errors=_TRACK)


def manage_videos_delete_track(*, media_id: str, track_id: str) -> Operation[models.Success]:
    """Remove an audio or subtitle track."""
    path = f"/on-demand/{_id('media_id', media_id)}/tracks/{_id('track_id', track_id)}"
    return Operation("DELETE", path, models.Success, errors=_MEDIA)


def manage_videos_generate_subtitle_track(
    *, media_id: str, track_id: str, body: models.GenerateSubtitlesRequest | dict
) -> Operation[models.Envelope[models.Track]]:
    """Make a subtitle track from an audio track by speech recognition."""
    path = f"/on-demand/{_id('media_id', media_id)}/tracks/{_id('track_id', track_id)}/generate-subtitles"
    return Operation("POST", path, models.Envelope[models.Track], body=_body(models.GenerateSubtitlesRequest, body),
                     errors=_TRACK)


def manage_videos_cancel_upload(*, upload_id: str) -> Operation[models.Envelope[models.Upload]]:
    """Cancel a direct upload that has not completed."""
    return Operation("PUT", f"/on-demand/upload/{_id('upload_id', upload_id)}/cancel", models.Envelope[models.Upload])


def manage_videos_get_summary(*, media_id: str) -> Operation[models.Envelope[str]]:
    """The generated summary text (400 `Summary not enabled` unless asked for)."""
    return Operation("GET", f"/on-demand/{_id('media_id', media_id)}/summary", models.Envelope[str], errors=_MEDIA)


def manage_videos_update_mp4_support(
    *, media_id: str, body: models.UpdateMp4SupportRequest | dict
) -> Operation[models.Envelope[models.Media]]:
    """Turn MP4 downloads on (`capped_4k`, `audioOnly`, `audioOnly,capped_4k`) or off (`none`)."""
    return Operation("PATCH", f"/on-demand/{_id('media_id', media_id)}/update-mp4Support",
                     models.Envelope[models.Media], body=_body(models.UpdateMp4SupportRequest, body), errors=_MP4)


def manage_videos_update_source_access(
    *, media_id: str, body: models.UpdateSourceAccessRequest | dict
) -> Operation[models.Envelope[models.Media]]:
    """Allow or stop downloading the original file."""
    return Operation("PATCH", f"/on-demand/{_id('media_id', media_id)}/source-access", models.Envelope[models.Media],
                     body=_body(models.UpdateSourceAccessRequest, body), errors=_MEDIA)


def manage_videos_retrieve_media_input_info(*, media_id: str) -> Operation[models.Envelope[models.InputInfo]]:
    """What the media was made from: the input URL and the probed container and tracks."""
    return Operation("GET", f"/on-demand/{_id('media_id', media_id)}/input-info", models.Envelope[models.InputInfo],
                     errors=_MEDIA)


def manage_videos_list_uploads(
    *, limit: int = 10, offset: int = 1, order_by: OrderBy = "desc"
) -> Operation[models.ListEnvelope[models.Upload]]:
    """One page of direct uploads that have not become a media."""
    return Operation("GET", "/on-demand/uploads", models.ListEnvelope[models.Upload],
                     query=_page(limit, offset, order_by))


# --- playback -------------------------------------------------------------------------------------------------

def playback_create_playback_id(
    *, media_id: str, body: models.CreatePlaybackIdRequest | dict | None = None
) -> Operation[models.Envelope[models.PlaybackId]]:
    """Another way to play a media: `{"access_policy": "public" | "private"}`."""
    return Operation("POST", f"/on-demand/{_id('media_id', media_id)}/playback-ids", models.Envelope[models.PlaybackId],
                     body=_body(models.CreatePlaybackIdRequest, body or {}), errors=_MEDIA)


def playback_list_playback_ids(*, media_id: str) -> Operation[models.Envelope[list[models.PlaybackId]]]:
    return Operation("GET", f"/on-demand/{_id('media_id', media_id)}/playback-ids",
                     models.Envelope[list[models.PlaybackId]], errors=_MEDIA)


def playback_get_playback_id(*, media_id: str, playback_id: str) -> Operation[models.Envelope[models.PlaybackId]]:
    path = f"/on-demand/{_id('media_id', media_id)}/playback-ids/{_id('playback_id', playback_id)}"
    return Operation("GET", path, models.Envelope[models.PlaybackId], errors=_MEDIA)


def playback_delete_playback_id(*, media_id: str, playback_id: str) -> Operation[models.Success]:
    return Operation("DELETE", f"/on-demand/{_id('media_id', media_id)}/playback-ids", models.Success,
                     query={"playbackId": _id("playback_id", playback_id)}, errors=_MEDIA)


def playback_update_domain_restrictions(
    *, media_id: str, playback_id: str, body: models.RestrictionRulesRequest | dict
) -> Operation[models.Envelope[models.RestrictionRules]]:
    """Which sites may embed the playback id (by the Referer's host)."""
    path = f"/on-demand/{_id('media_id', media_id)}/playback-ids/{_id('playback_id', playback_id)}/domains"
    return Operation("PATCH", path, models.Envelope[models.RestrictionRules],
                     body=_body(models.RestrictionRulesRequest, body), errors=_MEDIA)


def playback_update_user_agent_restrictions(
    *, media_id: str, playback_id: str, body: models.RestrictionRulesRequest | dict
) -> Operation[models.Envelope[models.RestrictionRules]]:
    """Which players may play the playback id (by User-Agent substrings)."""
    path = f"/on-demand/{_id('media_id', media_id)}/playback-ids/{_id('playback_id', playback_id)}/user-agents"
    return Operation("PATCH", path, models.Envelope[models.RestrictionRules],
                     body=_body(models.RestrictionRulesRequest, body), errors=_MEDIA)


# --- signing_keys ---------------------------------------------------------------------------------------------

def signing_keys_create() -> Operation[models.Envelope[models.SigningKey]]:
    """A new RSA key pair; `data.private_key` (base64 PEM) is shown only now: keep it to sign playback tokens."""
    return Operation("POST", "/iam/signing-keys", models.Envelope[models.SigningKey])


def signing_keys_list(
    *, limit: int = 10, offset: int = 1, order_by: OrderBy = "desc"
) -> Operation[models.ListEnvelope[models.SigningKey]]:
    return Operation("GET", "/iam/signing-keys", models.ListEnvelope[models.SigningKey],
                     query=_page(limit, offset, order_by))


def signing_keys_get(*, signing_key_id: str) -> Operation[models.Envelope[models.SigningKey]]:
    return Operation("GET", f"/iam/signing-keys/{_id('signing_key_id', signing_key_id)}",
                     models.Envelope[models.SigningKey])


def signing_keys_delete(*, signing_key_id: str) -> Operation[models.Success]:
    return Operation("DELETE", f"/iam/signing-keys/{_id('signing_key_id', signing_key_id)}", models.Success)


# --- in_video_ai_features -------------------------------------------------------------------------------------

def in_video_ai_features_update_summary(
    *, media_id: str, body: models.UpdateSummaryRequest | dict
) -> Operation[models.Envelope[models.AiToggle]]:
    """Ask for (or stop) a summary: `{"generate": True, "summary_length": 100}`."""
    return Operation("PATCH", f"/on-demand/{_id('media_id', media_id)}/summary", models.Envelope[models.AiToggle],
                     body=_body(models.UpdateSummaryRequest, body), errors=_MEDIA)


def in_video_ai_features_update_chapters(
    *, media_id: str, body: models.UpdateChaptersRequest | dict
) -> Operation[models.Envelope[models.AiToggle]]:
    return Operation("PATCH", f"/on-demand/{_id('media_id', media_id)}/chapters", models.Envelope[models.AiToggle],
                     body=_body(models.UpdateChaptersRequest, body), errors=_MEDIA)


def in_video_ai_features_update_named_entities(
    *, media_id: str, body: models.UpdateNamedEntitiesRequest | dict
) -> Operation[models.Envelope[models.AiToggle]]:
    """FastPix only: reelhouse does not extract named entities yet."""
    return Operation("PATCH", f"/on-demand/{_id('media_id', media_id)}/named-entities",
                     models.Envelope[models.AiToggle], body=_body(models.UpdateNamedEntitiesRequest, body),
                     errors=_MEDIA)


def in_video_ai_features_update_moderation(
    *, media_id: str, body: models.UpdateModerationRequest | dict
) -> Operation[models.Envelope[models.AiToggle]]:
    """FastPix only: reelhouse does not moderate yet."""
    return Operation("PATCH", f"/on-demand/{_id('media_id', media_id)}/moderation", models.Envelope[models.AiToggle],
                     body=_body(models.UpdateModerationRequest, body), errors=_MEDIA)


# --- webhooks (reelhouse's API for endpoints; FastPix configures them in its dashboard) ---------------------

def webhooks_create(*, body: models.CreateWebhookRequest | dict) -> Operation[models.Envelope[models.Webhook]]:
    """A new endpoint; `data.secret` is its signing secret, for `reelhouse_sdk.webhooks.verify`."""
    return Operation("POST", "/webhooks", models.Envelope[models.Webhook], body=_body(models.CreateWebhookRequest, body))


def webhooks_list(
    *, limit: int = 10, offset: int = 1, order_by: OrderBy = "desc"
) -> Operation[models.ListEnvelope[models.Webhook]]:
    return Operation("GET", "/webhooks", models.ListEnvelope[models.Webhook], query=_page(limit, offset, order_by))


def webhooks_get(*, webhook_id: str) -> Operation[models.Envelope[models.Webhook]]:
    return Operation("GET", f"/webhooks/{_id('webhook_id', webhook_id)}", models.Envelope[models.Webhook])


def webhooks_update(
    *, webhook_id: str, body: models.UpdateWebhookRequest | dict
) -> Operation[models.Envelope[models.Webhook]]:
    return Operation("PATCH", f"/webhooks/{_id('webhook_id', webhook_id)}", models.Envelope[models.Webhook],
                     body=_body(models.UpdateWebhookRequest, body))


def webhooks_delete(*, webhook_id: str) -> Operation[models.Success]:
    return Operation("DELETE", f"/webhooks/{_id('webhook_id', webhook_id)}", models.Success)


def webhooks_rotate_secret(*, webhook_id: str) -> Operation[models.Envelope[models.Webhook]]:
    """A new secret; the old one keeps signing `webhook-signature` for a grace period."""
    return Operation("POST", f"/webhooks/{_id('webhook_id', webhook_id)}/rotate-secret",
                     models.Envelope[models.Webhook])


def webhooks_list_deliveries(
    *, webhook_id: str, limit: int = 10, offset: int = 1, order_by: OrderBy = "desc"
) -> Operation[models.ListEnvelope[models.Delivery]]:
    """Deliveries to an endpoint, each with every attempt made."""
    return Operation("GET", f"/webhooks/{_id('webhook_id', webhook_id)}/deliveries",
                     models.ListEnvelope[models.Delivery], query=_page(limit, offset, order_by))


def webhooks_redeliver(*, webhook_id: str, delivery_id: str) -> Operation[models.Envelope[models.Delivery]]:
    path = f"/webhooks/{_id('webhook_id', webhook_id)}/deliveries/{_id('delivery_id', delivery_id)}/redeliver"
    return Operation("POST", path, models.Envelope[models.Delivery])
