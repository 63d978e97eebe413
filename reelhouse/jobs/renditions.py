"""What every step that makes renditions shares: storing a finished rendition folder and the timeline to follow."""

from __future__ import annotations

from pathlib import Path

from reelhouse.db.models import Media
from reelhouse.media import hls
from reelhouse.runtime import Runtime
from reelhouse.storage.keys import rendition_prefix


def upload(rt: Runtime, media_id: str, name: str, folder: Path, playlist: hls.MediaPlaylist) -> None:
    """Stores a rendition folder: leftovers of an interrupted earlier attempt go first, then segments, playlist last.
    Its `Rendition` row is written after this, so players never see it half-stored."""
    prefix = rendition_prefix(media_id, name)
    rt.storage.delete_prefix(prefix)
    for uri in [*([playlist.init] if playlist.init else []), *(uri for uri, _ in playlist.segments)]:
        rt.storage.put_file(f"{prefix}/{uri}", folder / uri)
    rt.storage.put_file(f"{prefix}/index.m3u8", folder / "index.m3u8")


def reference_playlist(rt: Runtime, media: Media) -> hls.MediaPlaylist:
    """The first published rendition's playlist, video before audio: the timeline every later rendition follows.
    Final only once the media's encode ended (`catalog.media.encoded`), which is when the steps that call this run."""
    first = min(media.renditions, key=lambda r: r.type != "video")
    return hls.parse_media_playlist(rt.storage.read(f"{rendition_prefix(media.id, first.name)}/index.m3u8").decode())
