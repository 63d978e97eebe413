"""Which step runs each kind of job. A new pipeline step is one entry here.

Step modules are imported the first time a worker runs their kind, so importing the app loads none of them, and a
worker that never transcribes never loads the speech engine.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

from reelhouse.db.enums import JobKind
from reelhouse.jobs.step import Step

STEPS = {
    JobKind.INGEST: "reelhouse.jobs.ingest:STEP",
    JobKind.TRANSCODE: "reelhouse.jobs.transcode:PLAYABLE",
    JobKind.LADDER: "reelhouse.jobs.transcode:LADDER",
    JobKind.CHUNK: "reelhouse.jobs.transcode:CHUNK",
    JobKind.LADDER_CHUNK: "reelhouse.jobs.transcode:LADDER_CHUNK",
    JobKind.MP4: "reelhouse.jobs.downloads:STEP",
    JobKind.TRACK: "reelhouse.jobs.tracks:STEP",
    JobKind.NORMALISE_AUDIO: "reelhouse.jobs.loudness:STEP",
    JobKind.SPEECH: "reelhouse.jobs.ai:SPEECH",
    JobKind.SUMMARY: "reelhouse.jobs.ai:INSIGHT",
    JobKind.CHAPTERS: "reelhouse.jobs.ai:INSIGHT",
    JobKind.NAMED_ENTITIES: "reelhouse.jobs.ai:INSIGHT",
    JobKind.MODERATION: "reelhouse.jobs.ai:INSIGHT",
}


@cache
def step(kind: str) -> Step[Any]:
    module, name = STEPS[JobKind(kind)].split(":")
    return getattr(importlib.import_module(module), name)
