"""`optimizeAudio`: the media plays at once with its source's audio; the loudness-normalised copy follows.

Normalising re-encodes the whole audio, seconds per minute of it, so it is kept off the way to Ready: once the
media's encode has ended (its audio segment boundaries are final), a `normalise-audio` job makes the normalised rendition on the same timeline and swaps it in
(`reelhouse.jobs.loudness`).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from reelhouse.catalog.media import on_encoded
from reelhouse.db.enums import JobKind
from reelhouse.db.models import Media
from reelhouse.jobs.params import NormaliseAudioParams
from reelhouse.jobs.queue import enqueue
from reelhouse.media.hls import AUDIO_FOLDER


@on_encoded
def _normalise_audio(session: Session, media: Media) -> None:
    """A media that asked for `optimizeAudio` and has audio of its own gets it normalised; one without audio, nothing."""
    if media.optimize_audio and any(r.name == AUDIO_FOLDER and not r.replaced for r in media.renditions):
        enqueue(session, JobKind.NORMALISE_AUDIO, media, NormaliseAudioParams(rendition=AUDIO_FOLDER))
