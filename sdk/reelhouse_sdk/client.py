"""`Reelhouse`: the client, with the seed's namespaces. Each method has an `_async` twin on the same object."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, ParamSpec, TypeVar

from reelhouse_sdk import errors, models
from reelhouse_sdk import operations as ops
from reelhouse_sdk import playback as playback_urls
from reelhouse_sdk._core import Operation, ReelhouseCore, RequestOptions
from reelhouse_sdk.uploads import Uploads

P = ParamSpec("P")
T = TypeVar("T")


def endpoint(build: Callable[P, Operation[T]]) -> tuple[Callable[..., T], Callable[..., Any]]:
    """The sync and async methods for one operation: same arguments as its builder, plus `options=`."""

    @functools.wraps(build)
    def method(self: Namespace, *args: Any, options: RequestOptions | None = None, **kwargs: Any) -> T:
        return self._core.send(build(*args, **kwargs), options)

    @functools.wraps(build)
    async def method_async(self: Namespace, *args: Any, options: RequestOptions | None = None, **kwargs: Any) -> T:
        return await self._core.send_async(build(*args, **kwargs), options)

    return method, method_async


class Namespace:
    def __init__(self, core: ReelhouseCore) -> None:
        self._core = core


class InputVideo(Namespace):
    """Bringing video in: from a URL, or through a signed upload URL."""

    create, create_async = endpoint(ops.input_video_create)
    upload, upload_async = endpoint(ops.input_video_upload)


class ManageVideos(Namespace):
    """The seed's `manageVideos`, method for method, and the rest of the media API."""

    get, get_async = endpoint(ops.manage_videos_get)
    update, update_async = endpoint(ops.manage_videos_update)
    delete, delete_async = endpoint(ops.manage_videos_delete)
    add_track, add_track_async = endpoint(ops.manage_videos_add_track)
    cancel_upload, cancel_upload_async = endpoint(ops.manage_videos_cancel_upload)
    update_track, update_track_async = endpoint(ops.manage_videos_update_track)
    generate_subtitle_track, generate_subtitle_track_async = endpoint(ops.manage_videos_generate_subtitle_track)
    get_summary, get_summary_async = endpoint(ops.manage_videos_get_summary)
    update_mp4_support, update_mp4_support_async = endpoint(ops.manage_videos_update_mp4_support)
    retrieve_media_input_info, retrieve_media_input_info_async = endpoint(ops.manage_videos_retrieve_media_input_info)
    list_uploads, list_uploads_async = endpoint(ops.manage_videos_list_uploads)
    list, list_async = endpoint(ops.manage_videos_list)
    delete_track, delete_track_async = endpoint(ops.manage_videos_delete_track)
    update_source_access, update_source_access_async = endpoint(ops.manage_videos_update_source_access)

    def iter(self, *, limit: int = 50, order_by: ops.OrderBy = "desc",
             options: RequestOptions | None = None) -> Iterator[models.Media]:
        """Every media, page after page (`limit` per request)."""
        return _pages(lambda page: self._core.send(ops.manage_videos_list(limit=limit, offset=page,
                                                                          order_by=order_by), options))

    def iter_uploads(self, *, limit: int = 50, order_by: ops.OrderBy = "desc",
                     options: RequestOptions | None = None) -> Iterator[models.Upload]:
        """Every unused direct upload, page after page."""
        return _pages(lambda page: self._core.send(ops.manage_videos_list_uploads(limit=limit, offset=page,
                                                                                  order_by=order_by), options))

    async def iter_async(self, *, limit: int = 50, order_by: ops.OrderBy = "desc",
                         options: RequestOptions | None = None) -> AsyncIterator[models.Media]:
        page, pages = 1, 1
        while page <= pages:
            result = await self._core.send_async(ops.manage_videos_list(limit=limit, offset=page, order_by=order_by),
                                                 options)
            for item in result.data:
                yield item
            page, pages = page + 1, result.pagination.offset_count

    def wait_until_ready(self, media_id: str, *, timeout: float = 300, poll_interval: float = 1.0,
                         options: RequestOptions | None = None) -> models.Media:
        """Polls until the media is Ready and returns it; raises MediaFailedError with the server's reason when
        it Failed, WaitTimeoutError when `timeout` seconds pass first."""
        deadline = time.monotonic() + _positive("timeout", timeout)
        while True:
            media = self.get(media_id=media_id, options=options).data
            if _settled(media, deadline):
                return media
            time.sleep(min(poll_interval, max(deadline - time.monotonic(), 0)))

    async def wait_until_ready_async(self, media_id: str, *, timeout: float = 300, poll_interval: float = 1.0,
                                     options: RequestOptions | None = None) -> models.Media:
        deadline = time.monotonic() + _positive("timeout", timeout)
        while True:
            media = (await self.get_async(media_id=media_id, options=options)).data
            if _settled(media, deadline):
                return media
            await asyncio.sleep(min(poll_interval, max(deadline - time.monotonic(), 0)))


def _positive(name: str, value: float) -> float:
    if not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"{name} must be a positive number of seconds")
    return value


def _settled(media: models.Media, deadline: float) -> bool:
    """True when Ready; raises when Failed or out of time."""
    if media.status == models.MediaStatus.READY:
        return True
    if media.status == models.MediaStatus.FAILED:
        raise errors.MediaFailedError(f"media {media.id} failed: {media.error or 'no reason given'}", media)
    if time.monotonic() >= deadline:
        raise errors.WaitTimeoutError(f"media {media.id} is still {media.status}", media)
    return False


def _pages(fetch: Callable[[int], Any]) -> Iterator[Any]:
    page, pages = 1, 1
    while page <= pages:
        result = fetch(page)
        yield from result.data
        page, pages = page + 1, result.pagination.offset_count


class Playback(Namespace):
    """Playback ids, their access rules, and the URLs to play them."""

    create_playback_id, create_playback_id_async = endpoint(ops.playback_create_playback_id)
    list_playback_ids, list_playback_ids_async = endpoint(ops.playback_list_playback_ids)
    get_playback_id, get_playback_id_async = endpoint(ops.playback_get_playback_id)
    delete_playback_id, delete_playback_id_async = endpoint(ops.playback_delete_playback_id)
    update_domain_restrictions, update_domain_restrictions_async = endpoint(ops.playback_update_domain_restrictions)
    update_user_agent_restrictions, update_user_agent_restrictions_async = endpoint(
        ops.playback_update_user_agent_restrictions)

    def stream_url(self, playback_id: str, *, token: str | None = None) -> str:
        """The HLS URL on this server (with `?token=` for a private playback id)."""
        return playback_urls.stream_url(playback_id, base=self._core.origin + "/stream", token=token)

    def thumbnail_url(self, playback_id: str, *, token: str | None = None, **params: Any) -> str:
        return playback_urls.thumbnail_url(playback_id, base=self._core.origin + "/images", token=token, **params)


class SigningKeys(Namespace):
    create, create_async = endpoint(ops.signing_keys_create)
    list, list_async = endpoint(ops.signing_keys_list)
    get, get_async = endpoint(ops.signing_keys_get)
    delete, delete_async = endpoint(ops.signing_keys_delete)


class InVideoAiFeatures(Namespace):
    update_summary, update_summary_async = endpoint(ops.in_video_ai_features_update_summary)
    update_chapters, update_chapters_async = endpoint(ops.in_video_ai_features_update_chapters)
    update_named_entities, update_named_entities_async = endpoint(ops.in_video_ai_features_update_named_entities)
    update_moderation, update_moderation_async = endpoint(ops.in_video_ai_features_update_moderation)


class Webhooks(Namespace):
    """reelhouse's webhook endpoints and their deliveries (verify deliveries with `reelhouse_sdk.webhooks.verify`)."""

    create, create_async = endpoint(ops.webhooks_create)
    list, list_async = endpoint(ops.webhooks_list)
    get, get_async = endpoint(ops.webhooks_get)
    update, update_async = endpoint(ops.webhooks_update)
    delete, delete_async = endpoint(ops.webhooks_delete)
    rotate_secret, rotate_secret_async = endpoint(ops.webhooks_rotate_secret)
    list_deliveries, list_deliveries_async = endpoint(ops.webhooks_list_deliveries)
    redeliver, redeliver_async = endpoint(ops.webhooks_redeliver)


class Reelhouse(ReelhouseCore):
    """The reelhouse (and FastPix) API client.

    >>> with Reelhouse(security=Security(username="TOKEN_ID", password="SECRET"),
    ...                server_url="http://127.0.0.1:8000/v1/") as client:
    ...     media = client.manage_videos.get(media_id="...").data
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.input_video = InputVideo(self)
        self.manage_videos = ManageVideos(self)
        self.playback = Playback(self)
        self.signing_keys = SigningKeys(self)
        self.in_video_ai_features = InVideoAiFeatures(self)
        self.webhooks = Webhooks(self)
        self.uploads = Uploads(self)

    def __enter__(self) -> Reelhouse:
        return self

    async def __aenter__(self) -> Reelhouse:
        return self
