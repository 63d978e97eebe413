"""Where each object lives. One place, so deleting a media or an upload removes everything it owns."""


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


def upload_part_key(upload_id: str, offset: int) -> str:
    """Zero-padded offsets sort in byte order."""
    return f"uploads/{upload_id}/parts/{offset:020d}"
