"""The step API: what a job step is given (`JobContext`), what it may raise (`PermanentError`, `ClaimLost`) and
what it is (`Step`: a run, a give-up and its typed parameters). Steps are written against this alone, whichever
dispatcher runs them: the embedded threads or workers on other machines.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from sqlalchemy.orm import Session

from reelhouse.db.enums import MediaStatus
from reelhouse.db.models import Job, Media
from reelhouse.jobs.params import Params
from reelhouse.media import loudness
from reelhouse.media.ffmpeg import FFmpegCancelled, FFmpegError, Location, run_ffmpeg
from reelhouse.media.probe import ProbeError, ProbeResult, probe
from reelhouse.net.fetch import FetchError, download
from reelhouse.runtime import Runtime

log = logging.getLogger(__name__)

P = TypeVar("P", bound=Params)


class PermanentError(Exception):
    """Retrying cannot help (the input is not media, the URL is refused...); the message is shown to users."""


class ClaimLost(Exception):
    """Another worker took this attempt's job over (this one stalled past its lease): it stops changing anything."""


@dataclass
class JobContext(Generic[P]):
    runtime: Runtime
    job: Job
    params: P
    scratch: Path  # this attempt's own folder, removed afterwards

    @property
    def media_id(self) -> str:
        assert self.job.media_id is not None  # every kind of job works on a media
        return self.job.media_id

    def progress(self, fraction: float) -> None:
        self.runtime.jobs.progress(self.job.id, fraction)
        log.info("job %s %s media=%s progress %.0f%%", self.job.kind, self.job.id, self.job.media_id, fraction * 100)

    def probe(self, path: Location, *, what: str | None = None) -> ProbeResult:
        """Probes a file this job works on; one that is not usable media fails the job for good, the reason shown
        to users (after "<what>: " when given)."""
        try:
            return probe(path)
        except ProbeError as exc:
            raise PermanentError(f"{what}: {exc}" if what else str(exc)) from None

    def media_gone(self) -> bool:
        """Deleted, or failed by another job (a chunk of its encode that gave up): work on it is wasted."""
        with self.runtime.db.read() as session:
            media = session.get(Media, self.media_id)
            return media is None or media.status == MediaStatus.FAILED

    def ffmpeg(self, args: list[str], *, duration: float, work: float, what: str, loglevel: str = "error",
               abandoned: Callable[[], bool] | None = None) -> list[str]:
        """Runs ffmpeg for this job. It is killed after a generous but finite time — `work` times the media's
        duration, scaled by the ffmpeg_timeout_factor setting — so a stuck run never holds a worker, and within
        seconds of its media being deleted or failing, or of `abandoned()` saying its output is no longer wanted;
        progress is recorded in 10 % steps; a failure is permanent and reads "<what>: <ffmpeg's error>". Returns
        the last lines ffmpeg logged at `loglevel`."""
        settings = self.runtime.settings
        reported = -1.0

        def progress(seconds: float) -> None:
            nonlocal reported
            fraction = min(1.0, seconds / max(duration, 0.001))
            if fraction - reported >= 0.1:
                reported = fraction
                self.progress(fraction)

        timeout = 120 + duration * work * settings.ffmpeg_timeout_factor
        try:
            return run_ffmpeg(args, timeout=timeout, ffmpeg=settings.ffmpeg_path, on_progress=progress,
                              cancelled=lambda: (abandoned is not None and abandoned()) or self.media_gone(),
                              loglevel=loglevel)
        except FFmpegCancelled:
            raise PermanentError("the media was deleted or failed") from None
        except FFmpegError as exc:
            raise PermanentError(f"{what}: {exc}") from None

    def loudness_gain(self, source: Path, *, duration: float, stream: str = "0:a:0") -> float:
        """The linear gain (dB) that brings this audio stream to the `optimizeAudio` loudness: the measuring pass
        of two-pass normalisation (`media.loudness`), decoding the audio alone."""
        lines = self.ffmpeg(loudness.measure_command(source, stream), duration=duration, work=0.5,
                            what="measuring the loudness failed", loglevel="info")
        try:
            return loudness.gain(loudness.parse_summary(lines))
        except loudness.LoudnessError as exc:
            raise PermanentError(f"measuring the loudness failed: {exc}") from None

    def fetch(self, url: str, dest: Path, *, max_bytes: int, what: str = "input") -> None:
        """Downloads a URL an API caller gave under the pull rules: address policy, size limit, timeouts."""
        settings = self.runtime.settings
        try:
            download(url, dest, self.runtime.address_policy, max_bytes=max_bytes,
                     connect_timeout=settings.download_connect_timeout, read_timeout=settings.download_read_timeout,
                     max_redirects=settings.download_max_redirects)
        except FetchError as exc:
            raise PermanentError(f"could not download the {what}: {exc}") from None


@dataclass(frozen=True)
class Step(Generic[P]):
    params: type[P]
    run: Callable[[JobContext[P]], None]
    # records the final failure where users see it, in the session of the transaction that fails the job
    give_up: Callable[[Session, Job, P, str], None]

    def context(self, runtime: Runtime, job: Job, scratch: Path) -> JobContext[P]:
        return JobContext(runtime, job, self.params.model_validate(job.params), scratch)
