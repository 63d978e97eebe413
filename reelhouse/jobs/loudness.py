"""The `normalise-audio` step (`optimizeAudio`): the media's audio rendition again, loudness-normalised, swapped in.

The media became Ready with its source's audio (copied, or plain AAC), so normalising never delays playback. This
step measures the loudness of the source's audio, applies one linear gain (`media.loudness`) and segments the
result exactly as the playable step segmented the original: same stream, sample rate and timestamps, so the
segment boundaries match, which is checked before anything is published. The normalised rendition goes to a folder
of its own and, in one transaction, takes the original's place in the master playlist while the original's row is
marked `replaced`: a player that loaded the original's playlist before the swap keeps fetching its segments, which
stay stored (and served) until the media is deleted. If this fails, the media plays on with its source's audio and
the job row says why.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from reelhouse.db.models import Job, Media, Rendition
from reelhouse.jobs.params import NormaliseAudioParams
from reelhouse.jobs.renditions import upload
from reelhouse.jobs.step import JobContext, PermanentError, Step
from reelhouse.media import hls
from reelhouse.runtime import Runtime
from reelhouse.storage.keys import original_key, rendition_prefix

log = logging.getLogger(__name__)

# How far a segment boundary may move: less than one AAC frame (1024 samples) at 44.1 kHz and above.
BOUNDARY_TOLERANCE = 0.024


def run(ctx: JobContext[NormaliseAudioParams]) -> None:
    rt = ctx.runtime
    replacing, name = ctx.params.rendition, hls.NORMALISED_AUDIO_FOLDER
    with rt.db.read() as session:
        media = session.get(Media, ctx.media_id)
        if media is None:
            return
        original = next((r for r in media.renditions if r.name == replacing and not r.replaced), None)
        if original is None or any(r.name == name for r in media.renditions):  # nothing to do, or done already
            return
        key = f"{rendition_prefix(media.id, original.name)}/index.m3u8"
        timeline = hls.parse_media_playlist(rt.storage.read(key).decode())
    folder = ctx.scratch / name
    folder.mkdir(parents=True, exist_ok=True)
    with rt.storage.as_local_file(original_key(media.id), ctx.scratch) as source:
        audio = ctx.probe(source).audio
        if audio is None:
            return
        gain = ctx.loudness_gain(source, duration=timeline.duration)
        log.info("media %s: audio gain %+.2f dB to the optimizeAudio loudness", media.id, gain)
        ctx.ffmpeg(hls.normalised_audio_command(source, folder, audio, gain, hls.audio_cut(timeline)), duration=timeline.duration, work=1,
                   what="normalising the audio failed")
    playlist = hls.parse_media_playlist((folder / "index.m3u8").read_text())
    check_timeline(timeline, playlist)
    peak, average = hls.bandwidth(folder, playlist)
    rendition = Rendition(name=name, type="audio", codecs=hls.aac_codec(audio, copied=False), bandwidth=peak,
                          average_bandwidth=average, duration=playlist.duration, language=original.language,
                          label=original.label, is_default=original.is_default)
    upload(rt, media.id, name, folder, playlist)
    _swap(rt, media.id, replacing, rendition)


def check_timeline(original: hls.MediaPlaylist, normalised: hls.MediaPlaylist) -> None:
    """The normalised rendition must start and end its segments where the original does, or players that switch
    between the two (or align it with the video) would skip or repeat audio."""
    ends = [start + d for start, (_, d) in zip(original.starts(), original.segments, strict=True)]
    new_ends = [start + d for start, (_, d) in zip(normalised.starts(), normalised.segments, strict=True)]
    if len(ends) != len(new_ends) or any(abs(a - b) > BOUNDARY_TOLERANCE for a, b in zip(ends, new_ends, strict=True)):
        raise PermanentError(f"the normalised audio does not line up with the original: {len(new_ends)} segments "
                             f"over {normalised.duration:.3f} s, not {len(ends)} over {original.duration:.3f} s")


def _swap(rt: Runtime, media_id: str, replacing: str, rendition: Rendition) -> None:
    """In one transaction the master playlist names the normalised rendition instead of the original."""
    with rt.db.write() as session:
        media = session.get(Media, media_id, with_for_update=True)
        if media is None:  # deleted meanwhile: the worker purges what this job stored
            return
        original = next((r for r in media.renditions if r.name == replacing and not r.replaced), None)
        if original is None or any(r.name == rendition.name for r in media.renditions):
            return
        original.replaced = True
        media.renditions.append(rendition)


def give_up(session: Session, job: Job, params: NormaliseAudioParams, error: str) -> None:
    """The media plays on with its source's audio; the job row keeps the reason."""
    log.error("media %s: audio not normalised, playing the source's: %s", job.media_id, error)


STEP = Step(NormaliseAudioParams, run, give_up)
