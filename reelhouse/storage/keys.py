"""Where each object lives. One place, so deleting a media or an upload removes everything it owns."""

from reelhouse.storage.base import Storage

ROOTS = ("media", "uploads")  # every key lives under one of these: `storage migrate` copies them all



def media_prefix(media_id: str) -> str:
    return f"media/{media_id}"


def original_key(media_id: str) -> str:
    return f"media/{media_id}/original"


def rendition_prefix(media_id: str, name: str) -> str:
    return f"media/{media_id}/hls/{name}"


def download_key(media_id: str, file: str) -> str:
    return f"media/{media_id}/downloads/{file}"


def thumbnail_key(media_id: str, name: str) -> str:
    return f"media/{media_id}/thumbs/{name}"


def upload_prefix(upload_id: str) -> str:
    return f"uploads/{upload_id}"


def upload_part_key(upload_id: str, offset: int, part_id: str) -> str:
    """Zero-padded offsets sort in byte order; `part_id` gives each stored part a key of its own, so a request that
    loses the race for an offset never overwrites the winner's part."""
    return f"uploads/{upload_id}/parts/{offset:020d}-{part_id}"


def purge_media(storage: Storage, media_id: str, upload_id: str | None = None) -> None:
    """Everything the media owns, including the parts of its upload that ingest had not assembled yet."""
    storage.delete_prefix(media_prefix(media_id))
    if upload_id is not None:
        storage.delete_prefix(upload_prefix(upload_id))
