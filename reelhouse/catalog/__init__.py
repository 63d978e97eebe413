"""The domain rules every surface shares — API routers, the upload endpoint, job steps, the CLI: creating, finding,
changing and deleting media and what hangs off it, each change with its jobs and webhook events in the caller's
transaction. Routers parse, call these and render; steps call them to record what they made.

Importing the package registers what a media owes once it turns Ready (`media.on_ready`: downloads, insights) and
once its encode ended (`media.on_encoded`: tracks and the normalised audio, which follow the finished timeline),
each in its own module.
"""

from reelhouse.catalog import audio, downloads, insights, media, tracks, transforms

__all__ = ["audio", "downloads", "insights", "media", "tracks", "transforms"]
