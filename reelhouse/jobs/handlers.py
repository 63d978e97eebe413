"""Which code runs each kind of job. A new pipeline step is one entry here."""

from reelhouse.db.enums import InsightKind
from reelhouse.jobs import ai, downloads, ingest, tracks, transcode
from reelhouse.jobs.worker import Handler

HANDLERS: dict[str, Handler] = {
    "ingest": Handler(ingest.run, ingest.give_up),
    "transcode": Handler(transcode.run_playable, transcode.give_up_playable),
    "ladder": Handler(transcode.run_ladder, transcode.give_up_ladder),
    "mp4": Handler(downloads.run, downloads.give_up),
    tracks.KIND: Handler(tracks.run, tracks.give_up),
    tracks.SPEECH_KIND: Handler(ai.run_speech, tracks.give_up),
    InsightKind.SUMMARY: Handler(ai.run_insight, ai.give_up_insight),
    InsightKind.CHAPTERS: Handler(ai.run_insight, ai.give_up_insight),
}
