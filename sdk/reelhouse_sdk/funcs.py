"""Standalone functions: every operation as a function of a `ReelhouseCore`, returning a `Result` instead of
raising when the server answers an error or cannot be reached (bad arguments still raise at once).

    from reelhouse_sdk import ReelhouseCore
    from reelhouse_sdk.funcs import manage_videos_get

    core = ReelhouseCore(security={"username": TOKEN_ID, "password": SECRET}, server_url=URL)
    res = manage_videos_get(core, media_id="...")
    if res.ok:
        print(res.value.data.status)
    else:
        print("manage_videos_get failed:", res.error)
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, ParamSpec, TypeVar

from reelhouse_sdk import operations as ops
from reelhouse_sdk._core import Operation, ReelhouseCore, RequestOptions
from reelhouse_sdk.errors import ReelhouseError

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class Result(Generic[T]):
    """`ok` and `value` on success; `error` (a ReelhouseError) otherwise."""

    ok: bool
    value: T | None = None
    error: ReelhouseError | None = None


def _core(core: Any) -> ReelhouseCore:
    if not isinstance(core, ReelhouseCore):
        raise TypeError("the first argument must be a ReelhouseCore (or a Reelhouse client)")
    return core


def standalone(build: Callable[P, Operation[T]]) -> Callable[..., Result[T]]:
    @functools.wraps(build)
    def call(core: ReelhouseCore, *args: Any, options: RequestOptions | None = None, **kwargs: Any) -> Result[T]:
        op = build(*args, **kwargs)
        try:
            return Result(True, _core(core).send(op, options))
        except ReelhouseError as exc:
            return Result(False, error=exc)

    return call


def standalone_async(build: Callable[P, Operation[T]]) -> Callable[..., Awaitable[Result[T]]]:
    @functools.wraps(build)
    async def call(core: ReelhouseCore, *args: Any, options: RequestOptions | None = None, **kwargs: Any) -> Result[T]:
        op = build(*args, **kwargs)
        try:
            return Result(True, await _core(core).send_async(op, options))
        except ReelhouseError as exc:
            return Result(False, error=exc)

    return call


input_video_create = standalone(ops.input_video_create)
input_video_create_async = standalone_async(ops.input_video_create)
input_video_upload = standalone(ops.input_video_upload)
input_video_upload_async = standalone_async(ops.input_video_upload)
manage_videos_list = standalone(ops.manage_videos_list)
manage_videos_list_async = standalone_async(ops.manage_videos_list)
manage_videos_get = standalone(ops.manage_videos_get)
manage_videos_get_async = standalone_async(ops.manage_videos_get)
manage_videos_update = standalone(ops.manage_videos_update)
manage_videos_update_async = standalone_async(ops.manage_videos_update)
manage_videos_delete = standalone(ops.manage_videos_delete)
manage_videos_delete_async = standalone_async(ops.manage_videos_delete)
manage_videos_add_track = standalone(ops.manage_videos_add_track)
manage_videos_add_track_async = standalone_async(ops.manage_videos_add_track)
manage_videos_update_track = standalone(ops.manage_videos_update_track)
manage_videos_update_track_async = standalone_async(ops.manage_videos_update_track)
manage_videos_delete_track = standalone(ops.manage_videos_delete_track)
manage_videos_delete_track_async = standalone_async(ops.manage_videos_delete_track)
manage_videos_generate_subtitle_track = standalone(ops.manage_videos_generate_subtitle_track)
manage_videos_generate_subtitle_track_async = standalone_async(ops.manage_videos_generate_subtitle_track)
manage_videos_cancel_upload = standalone(ops.manage_videos_cancel_upload)
manage_videos_cancel_upload_async = standalone_async(ops.manage_videos_cancel_upload)
manage_videos_get_summary = standalone(ops.manage_videos_get_summary)
manage_videos_get_summary_async = standalone_async(ops.manage_videos_get_summary)
manage_videos_update_mp4_support = standalone(ops.manage_videos_update_mp4_support)
manage_videos_update_mp4_support_async = standalone_async(ops.manage_videos_update_mp4_support)
manage_videos_update_source_access = standalone(ops.manage_videos_update_source_access)
manage_videos_update_source_access_async = standalone_async(ops.manage_videos_update_source_access)
manage_videos_retrieve_media_input_info = standalone(ops.manage_videos_retrieve_media_input_info)
manage_videos_retrieve_media_input_info_async = standalone_async(ops.manage_videos_retrieve_media_input_info)
manage_videos_list_uploads = standalone(ops.manage_videos_list_uploads)
manage_videos_list_uploads_async = standalone_async(ops.manage_videos_list_uploads)
playback_create_playback_id = standalone(ops.playback_create_playback_id)
playback_create_playback_id_async = standalone_async(ops.playback_create_playback_id)
playback_list_playback_ids = standalone(ops.playback_list_playback_ids)
playback_list_playback_ids_async = standalone_async(ops.playback_list_playback_ids)
playback_get_playback_id = standalone(ops.playback_get_playback_id)
playback_get_playback_id_async = standalone_async(ops.playback_get_playback_id)
playback_delete_playback_id = standalone(ops.playback_delete_playback_id)
playback_delete_playback_id_async = standalone_async(ops.playback_delete_playback_id)
playback_update_domain_restrictions = standalone(ops.playback_update_domain_restrictions)
playback_update_domain_restrictions_async = standalone_async(ops.playback_update_domain_restrictions)
playback_update_user_agent_restrictions = standalone(ops.playback_update_user_agent_restrictions)
playback_update_user_agent_restrictions_async = standalone_async(ops.playback_update_user_agent_restrictions)
signing_keys_create = standalone(ops.signing_keys_create)
signing_keys_create_async = standalone_async(ops.signing_keys_create)
signing_keys_list = standalone(ops.signing_keys_list)
signing_keys_list_async = standalone_async(ops.signing_keys_list)
signing_keys_get = standalone(ops.signing_keys_get)
signing_keys_get_async = standalone_async(ops.signing_keys_get)
signing_keys_delete = standalone(ops.signing_keys_delete)
signing_keys_delete_async = standalone_async(ops.signing_keys_delete)
in_video_ai_features_update_summary = standalone(ops.in_video_ai_features_update_summary)
in_video_ai_features_update_summary_async = standalone_async(ops.in_video_ai_features_update_summary)
in_video_ai_features_update_chapters = standalone(ops.in_video_ai_features_update_chapters)
in_video_ai_features_update_chapters_async = standalone_async(ops.in_video_ai_features_update_chapters)
in_video_ai_features_update_named_entities = standalone(ops.in_video_ai_features_update_named_entities)
in_video_ai_features_update_named_entities_async = standalone_async(ops.in_video_ai_features_update_named_entities)
in_video_ai_features_update_moderation = standalone(ops.in_video_ai_features_update_moderation)
in_video_ai_features_update_moderation_async = standalone_async(ops.in_video_ai_features_update_moderation)
webhooks_create = standalone(ops.webhooks_create)
webhooks_create_async = standalone_async(ops.webhooks_create)
webhooks_list = standalone(ops.webhooks_list)
webhooks_list_async = standalone_async(ops.webhooks_list)
webhooks_get = standalone(ops.webhooks_get)
webhooks_get_async = standalone_async(ops.webhooks_get)
webhooks_update = standalone(ops.webhooks_update)
webhooks_update_async = standalone_async(ops.webhooks_update)
webhooks_delete = standalone(ops.webhooks_delete)
webhooks_delete_async = standalone_async(ops.webhooks_delete)
webhooks_rotate_secret = standalone(ops.webhooks_rotate_secret)
webhooks_rotate_secret_async = standalone_async(ops.webhooks_rotate_secret)
webhooks_list_deliveries = standalone(ops.webhooks_list_deliveries)
webhooks_list_deliveries_async = standalone_async(ops.webhooks_list_deliveries)
webhooks_redeliver = standalone(ops.webhooks_redeliver)
webhooks_redeliver_async = standalone_async(ops.webhooks_redeliver)
