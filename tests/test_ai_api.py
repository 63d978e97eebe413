"""Generated subtitles, summaries, chapters, named entities and moderation through the API and the official SDK, against a real server.

The speech media is tests/data/speech_en.ogg muxed with a small test pattern, so its words and when they are
spoken are known (see test_ai.py). The server runs in this process, so the Whisper model is loaded once.
"""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import av
import httpx
import pytest
import webvtt
from fastpix_python import Fastpix, errors
from sqlalchemy import select

from reelhouse.ai.transcript import split_sentences
from reelhouse.db.models import Track, Transcript, WebhookEvent
from reelhouse.jobs.ai import TRANSCRIPT
from reelhouse.media.ffmpeg import run_ffmpeg
from tests.api_helpers import create_media, error_of, invalid_fields
from tests.conftest import IN_ONE_PASS, Server, wait_for
from tests.test_ai import CLIP, FLAGGED, MAX_WER, MAX_WER_OTHER, REFERENCE, SPOKEN, word_error_rate
from tests.test_tracks import cues, master, master_url, ready_media

ENTITIES_CLIP = CLIP.with_name("speech_entities.ogg")  # its words are speech_entities.txt
NOT_ENABLED = {"success": False, "error": {"code": 400, "message": "Summary not enabled",
                                           "description": "Summary is not enabled for the requested media"}}


@pytest.fixture(scope="module")
def speech_clips(clips: Path) -> Path:
    """speech.mp4 and speech_it.mp4 (the English and Italian clips under a test pattern), silence.mp4 (a test pattern with a silent audio track)
    and speech.ogg (the clip itself, to add as an audio track)."""
    shutil.copyfile(CLIP, clips / "speech.ogg")
    pattern = ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10"]
    video = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "20", "-movflags", "+faststart"]
    run_ffmpeg(["-y", *pattern, "-i", str(CLIP), "-map", "0:v", "-map", "1:a", *video, "-c:a", "aac", "-shortest",
                str(clips / "speech.mp4")], timeout=60)
    run_ffmpeg(["-y", *pattern, "-i", str(CLIP.with_name("speech_it.ogg")), "-map", "0:v", "-map", "1:a", *video,
                "-c:a", "aac", "-shortest", str(clips / "speech_it.mp4")], timeout=60)
    run_ffmpeg(["-y", *pattern, "-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo", *video, "-c:a", "aac", "-t", "4",
                str(clips / "silence.mp4")], timeout=60)
    return clips


def settled(media: dict) -> bool:
    """No generated subtitles, summary or chapters is still being made."""
    records = [*media["generatedSubtitles"], *(media[k] for k in ("summary", "chapters") if k in media)]
    return all(record["status"] != "preparing" for record in records)


def webhook_events(server: Server) -> list[WebhookEvent]:
    with server.runtime.db.read() as session:
        return list(session.scalars(select(WebhookEvent).order_by(WebhookEvent.seq)))


def test_speech_becomes_subtitles_a_summary_and_chapters(
    fp: Fastpix, api: httpx.Client, server: Server, file_server: str, speech_clips: Path
) -> None:
    assert api.post("/webhooks", json={"url": f"{file_server}/hook"}).status_code == 201
    created = create_media(api, f"{file_server}/speech.mp4", subtitles={"languageCode": "en"}, chapters=True,
                           summary={"generate": True, "summaryLength": 30})
    media_id = created["id"]
    early = api.get(f"/on-demand/{media_id}").json()["data"]
    [pending] = early["generatedSubtitles"]
    assert pending == {"id": pending["id"], "status": "preparing", "languageCode": "en", "languageName": "English"}
    assert early["summary"] == early["chapters"] == {"status": "preparing"}
    with pytest.raises(errors.FastpixDefaultError, match="Summary not ready"):
        fp.manage_videos.get_summary(media_id=media_id)

    # subtitles from the original's audio in a second variety of English; asking twice makes no second track
    media = wait_for(api, media_id, lambda m: m["status"] == "Ready")
    audio = next(t for t in media["tracks"] if t["type"] == "audio")
    request = {"media_id": media_id, "track_id": audio["id"], "language_name": "British", "language_code": "en-GB"}
    generated = fp.manage_videos.generate_subtitle_track(**request).data
    assert (generated.type, generated.language_code, generated.language_name) == ("subtitle", "en-GB", "British")
    with pytest.raises(errors.TrackDuplicateRequestError):
        fp.manage_videos.generate_subtitle_track(**request)
    media = wait_for(api, media_id, settled, timeout=90)
    assert [(s["languageCode"], s["status"]) for s in media["generatedSubtitles"]] == [
        ("en", "available"), ("en-GB", "available")]
    assert media["subtitleAvailable"] is True

    # transcribed once: both tracks, the summary and the chapters read the one stored transcript
    with server.runtime.db.read() as session:
        [stored] = session.scalars(select(Transcript)).all()
    transcript = TRANSCRIPT.validate_json(stored.data)

    # the subtitles play in the master: the spoken words, when they are spoken
    playlist = master(server, media)
    subtitles = {m.language: m for m in playlist.media if m.type == "SUBTITLES"}
    assert set(subtitles) == {"en", "en-GB"}
    found = cues(subtitles["en"].absolute_uri)
    assert word_error_rate(REFERENCE, " ".join(text.replace("\n", " ") for _, _, text in found)) <= MAX_WER
    for word, (start, end) in SPOKEN.items():
        [(cue_start, cue_end, _)] = [cue for cue in found if word in cue[2].lower()]
        assert start - 0.75 <= cue_start and cue_end <= end + 0.75, (word, cue_start, cue_end)
    assert cues(subtitles["en-GB"].absolute_uri) == found
    with av.open(master_url(server, media)) as container:
        assert sorted(s.metadata["language"] for s in container.streams.subtitles) == ["en", "en-GB"]

    # the summary: whole sentences of the transcript, within the word budget; a longer budget redoes it
    summary = fp.manage_videos.get_summary(media_id=media_id).data
    assert summary and len(summary.split()) <= 30 and media["summary"] == {"status": "ready", "data": summary}
    sentences = split_sentences(transcript.text)
    assert set(split_sentences(summary)) <= set(sentences)
    longer = fp.in_video_ai_features.update_media_summary(media_id=media_id, generate=True, summary_length=250).data
    assert (longer.media_id, longer.is_generated_summary) == (media_id, True)
    wait_for(api, media_id, lambda m: m["summary"]["status"] == "ready")
    assert split_sentences(fp.manage_videos.get_summary(media_id=media_id).data) == sentences  # all of it fits

    # chapters cover the whole media in order, on the media and as a WebVTT chapters file
    toggled = fp.in_video_ai_features.update_media_chapters(media_id=media_id, chapters=True).data
    assert (toggled.media_id, toggled.is_generated_chapters) == (media_id, True)
    chapters = media["chapters"]["data"]["chapters"]
    assert chapters[0]["start"] == 0 and chapters[-1]["end"] == pytest.approx(float(media["duration"]), abs=0.01)
    assert all(a["end"] == b["start"] < b["end"] for a, b in itertools.pairwise(chapters))
    assert all(chapter["title"] for chapter in chapters)
    file_url = f"{server.url}/stream/{media['playbackIds'][0]['id']}/chapters.vtt"
    response = httpx.get(file_url)
    assert response.status_code == 200 and response.headers["content-type"] == "text/vtt; charset=utf-8"
    assert [c.text for c in webvtt.from_string(response.text).captions] == [c["title"] for c in chapters]

    events = webhook_events(server)
    types = [event.type for event in events]
    assert types.count("video.media.subtitle.generated.ready") == 2
    assert types.count("video.mediaAI.summary.ready") == 2 and types.count("video.mediaAI.chapters.ready") == 1
    assert types[types.index("video.media.subtitle.generated.ready") + 1] == "video.media.updated"
    announced = [event.data for event in events if event.type == "video.media.track.created"][-1]
    assert announced["generatedSubtitles"][-1] == {"id": generated.id, "status": "preparing", "languageCode": "en-GB",
                                                   "languageName": "British"}

    # turned off: the summary answers exactly as FastPix does, the chapters file is gone
    off = fp.in_video_ai_features.update_media_summary(media_id=media_id, generate=False).data
    assert off.is_generated_summary is False
    response = api.get(f"/on-demand/{media_id}/summary")
    assert response.status_code == 400 and response.json() == NOT_ENABLED
    assert fp.in_video_ai_features.update_media_chapters(media_id=media_id, chapters=False).data.is_generated_chapters \
        is False
    assert httpx.get(file_url).status_code == 404
    assert {"summary", "chapters"}.isdisjoint(api.get(f"/on-demand/{media_id}").json()["data"])


def test_italian_subtitles_on_the_default_install(
    fp: Fastpix, api: httpx.Client, server: Server, file_server: str, speech_clips: Path
) -> None:
    """The seed document's example: Italian subtitles, asked for by name and detected, from one transcription."""
    created = create_media(api, f"{file_server}/speech_it.mp4", subtitles={"languageCode": "auto"})
    [pending] = api.get(f"/on-demand/{created['id']}").json()["data"]["generatedSubtitles"]
    assert (pending["languageCode"], pending["languageName"]) == ("auto", "Detected language")
    media = wait_for(api, created["id"], lambda m: m["status"] == "Ready")
    audio = next(t for t in media["tracks"] if t["type"] == "audio")
    generated = fp.manage_videos.generate_subtitle_track(media_id=media["id"], track_id=audio["id"],
                                                         language_code="it-IT", language_name="Italian").data
    assert (generated.language_code, generated.language_name) == ("it-IT", "Italian")
    media = wait_for(api, media["id"], settled, timeout=90)
    assert [(s["languageCode"], s["languageName"], s["status"]) for s in media["generatedSubtitles"]] == [
        ("it", "Italian", "available"), ("it-IT", "Italian", "available")]
    reference = CLIP.with_name("speech_it.txt").read_text()
    subtitles = {m.language: m for m in master(server, media).media if m.type == "SUBTITLES"}
    for found in (cues(subtitles["it"].absolute_uri), cues(subtitles["it-IT"].absolute_uri)):
        assert word_error_rate(reference, " ".join(text.replace("\n", " ") for _, _, text in found)) <= MAX_WER_OTHER
    with server.runtime.db.read() as session:
        assert [t.language for t in session.scalars(select(Transcript).join(Track, Track.id == Transcript.track_id)
                                                      .where(Track.media_id == media["id"]))] == ["it"]


@IN_ONE_PASS  # a rule of the speech job, whatever the database
def test_a_detected_language_never_duplicates_a_subtitle_track(
    api: httpx.Client, file_server: str, speech_clips: Path
) -> None:
    """An `it` subtitle track added while the `auto` one waits: the detected track fails saying why, rather than
    becoming a second `it` track (one track per type and language, as the API keeps it)."""
    (speech_clips / "it.vtt").write_text("WEBVTT\n\n00:00.000 --> 00:02.000\nCiao\n")
    created = create_media(api, f"{file_server}/speech_it.mp4", subtitles={"languageCode": "auto"})
    added = {"url": f"{file_server}/it.vtt", "type": "subtitle", "languageCode": "it", "languageName": "Italiano"}
    assert api.post(f"/on-demand/{created['id']}/tracks", json={"tracks": added}).status_code == 201
    media = wait_for(api, created["id"], lambda m: m["status"] == "Ready" and settled(m) and all(
        t["status"] != "preparing" for t in m["tracks"]), timeout=90)
    [detected] = media["generatedSubtitles"]
    assert (detected["languageCode"], detected["status"]) == ("auto", "failed")
    assert detected["error"] == "the speech is Italian (it), and the media already has a subtitle track in 'it'"
    assert [(t["languageCode"], t["status"]) for t in media["tracks"] if t["type"] == "subtitle"] == [
        ("auto", "failed"), ("it", "available")]


def test_bad_requests_and_media_without_speech_get_clear_answers(
    api: httpx.Client, server: Server, file_server: str, speech_clips: Path
) -> None:
    body = {"languageName": "English", "languageCode": "en-US"}
    mute = create_media(api, f"{file_server}/silent.mp4", subtitles={"languageCode": "en"})  # no audio stream at all
    mute = wait_for(api, mute["id"], lambda m: m["status"] == "Ready" and settled(m))
    assert mute["generatedSubtitles"][0]["status"] == "failed"
    assert mute["generatedSubtitles"][0]["error"] == "the media has no audio to transcribe"
    video = next(t for t in mute["tracks"] if t["type"] == "video")
    error = error_of(api.post(f"/on-demand/{mute['id']}/tracks/{video['id']}/generate-subtitles", json=body), 400)
    assert error["description"] == "The media has no audio track to transcribe."

    media = ready_media(api, f"{file_server}/silence.mp4")
    media_id = media["id"]
    audio = next(t for t in media["tracks"] if t["type"] == "audio")
    generate = f"/on-demand/{media_id}/tracks/{audio['id']}/generate-subtitles"
    unknown = "00000000-0000-4000-8000-000000000000"
    assert error_of(api.post(f"/on-demand/{media_id}/tracks/{unknown}/generate-subtitles", json=body), 404)
    assert error_of(api.patch(f"/on-demand/{unknown}/summary", json={"generate": True}), 404)
    assert invalid_fields(api.post(generate, json={**body, "languageCode": "en"})) == ["languageCode"]
    assert invalid_fields(api.post(generate, json={"languageCode": "en-US"})) == ["languageName"]
    for length in (29, 251):
        assert invalid_fields(api.patch(f"/on-demand/{media_id}/summary",
                                        json={"generate": True, "summaryLength": length})) == ["summaryLength"]
    assert error_of(api.get(f"/on-demand/{media_id}/summary"), 400)["message"] == "Summary not enabled"

    # silence: an empty but playable subtitle track, and neither a summary nor chapters made up
    track = api.post(generate, json=body).json()["data"]
    assert (track["type"], track["status"]) == ("subtitle", "preparing")
    error = error_of(api.post(f"/on-demand/{media_id}/tracks/{track['id']}/generate-subtitles", json=body), 400)
    assert error["message"] == "Not an audio track"
    assert api.patch(f"/on-demand/{media_id}/summary", json={"generate": True}).json()["data"] == {
        "mediaId": media_id, "isSummaryEnabled": True}
    assert api.patch(f"/on-demand/{media_id}/chapters", json={"chapters": True}).status_code == 200
    media = wait_for(api, media_id, settled, timeout=60)
    assert media["generatedSubtitles"][0]["status"] == "available"
    [subtitles] = [m for m in master(server, media).media if m.type == "SUBTITLES"]
    assert cues(subtitles.absolute_uri) == []
    error = error_of(api.get(f"/on-demand/{media_id}/summary"), 400)
    assert error == {"code": 400, "message": "Summary not available",
                     "description": "No summary can be made: there is too little speech to summarise."}
    assert media["chapters"] == {"status": "failed", "error": "there is too little speech to divide into chapters"}
    assert httpx.get(f"{server.url}/stream/{media['playbackIds'][0]['id']}/chapters.vtt").status_code == 404

    # an added audio track is transcribed from its published rendition, cut to the media's 4 s like its audio
    dub = {"url": f"{file_server}/speech.ogg", "type": "audio", "languageCode": "en", "languageName": "Narration"}
    dub_id = api.post(f"/on-demand/{media_id}/tracks", json={"tracks": dub}).json()["data"]["id"]
    wait_for(api, media_id, lambda m: any(t["id"] == dub_id and t["status"] == "available" for t in m["tracks"]))
    narrated = f"/on-demand/{media_id}/tracks/{dub_id}/generate-subtitles"
    assert api.post(narrated, json={**body, "languageCode": "en-AU"}).status_code == 200
    media = wait_for(api, media_id, settled)
    narration = next(m for m in master(server, media).media if m.language == "en-AU")
    found = cues(narration.absolute_uri)
    assert found[0][2].lower().startswith("welcome to this") and found[0][0] < SPOKEN["recognition"][1]
    assert all(0 <= start < end <= 4.0 for start, end, _ in found)

    # the create-time option: only languages the model knows; what is still not done stays refused
    url = f"{file_server}/speech.mp4"
    inputs = [{"type": "video", "url": url}]
    french = create_media(api, url, subtitles={"languageCode": "fr"})
    assert api.delete(f"/on-demand/{french['id']}").status_code == 200  # accepted is enough: no work left queued
    upload = {"corsOrigin": "*", "pushMediaSettings": {"accessPolicy": "public", "subtitles": {"languageCode": "it"}}}
    assert api.post("/on-demand/upload", json=upload).status_code == 201
    upload["pushMediaSettings"]["subtitles"] = {"languageCode": "xx"}
    assert invalid_fields(api.post("/on-demand/upload", json=upload)) == ["pushMediaSettings.subtitles.languageCode"]
    assert invalid_fields(api.post("/on-demand", json={"inputs": inputs, "accessPolicy": "public",
                                                      "moderation": {"type": "nudity"}})) == ["moderation.type"]


def test_named_entities_and_moderation_of_what_is_said(
    fp: Fastpix, api: httpx.Client, server: Server, file_server: str, speech_clips: Path
) -> None:
    """tests/data/speech_entities.ogg names a person, a place and an organisation, then swears in its last sentence."""
    clip = ENTITIES_CLIP.with_suffix(".mp4").name
    run_ffmpeg(["-y", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10", "-i", str(ENTITIES_CLIP), "-map", "0:v",
                "-map", "1:a", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
                "-shortest", str(speech_clips / clip)], timeout=60)
    assert api.post("/webhooks", json={"url": f"{file_server}/ai-hook"}).status_code == 201
    created = create_media(api, f"{file_server}/{clip}", namedEntities=True)
    media_id = created["id"]
    assert api.get(f"/on-demand/{media_id}").json()["data"]["namedEntities"] == {"status": "preparing"}
    toggled = fp.in_video_ai_features.update_media_moderation(media_id=media_id, moderation={"type": "av"}).data
    assert (toggled.media_id, toggled.is_moderation_enabled) == (media_id, True)

    media = wait_for(api, media_id, lambda m: m["status"] == "Ready" and all(
        m.get(k, {}).get("status") == "ready" for k in ("namedEntities", "moderation")), timeout=90)
    found = {(e["text"], e["type"]): (e["start"], e["end"]) for e in media["namedEntities"]["data"]["entities"]}
    for name, kind, (said_by, said_from) in [("Barack Obama", "PERSON", (0.0, 1.5)), ("London", "GPE", (1.0, 2.5)),
                                             ("Microsoft", "ORG", (2.5, 4.2))]:
        start, end = found[(name, kind)]
        assert said_by - 0.5 <= start < end <= said_from + 0.5, (name, start, end)
    # av: the test pattern is safe to look at, the last sentence swears
    moderation = media["moderation"]["data"]
    assert moderation["type"] == "av" and moderation["frames"] >= 5 and moderation["interval"] == 2.0
    assert moderation["scores"]["nudity"] < 0.1 and moderation["scores"]["hate"] == moderation["scores"]["threats"] == 0
    [flag] = moderation["flagged"]  # Whisper may run the sentences together, so the profanity share is not pinned
    assert moderation["scores"]["profanity"] > 0
    assert flag["category"] == "profanity" and "bullshit" in flag["text"] and flag["end"] > 8.0
    events = [event.type for event in webhook_events(server) if event.object_id == media_id]
    assert {"video.mediaAI.named-entities.ready", "video.mediaAI.moderation.ready"} <= set(events)

    # another type redoes it: audio alone scores no frames
    fp.in_video_ai_features.update_media_moderation(media_id=media_id, moderation={"type": "audio"})
    media = wait_for(api, media_id, lambda m: m["moderation"].get("data", {}).get("type") == "audio")
    assert set(media["moderation"]["data"]["scores"]) == {"profanity", "hate", "threats"}

    # off drops the record; on again makes it again from the stored transcript
    off = fp.in_video_ai_features.update_media_named_entities(media_id=media_id, named_entities=False).data
    assert (off.media_id, off.is_generated_named_entities) == (media_id, False)
    assert "namedEntities" not in api.get(f"/on-demand/{media_id}").json()["data"]
    assert fp.in_video_ai_features.update_media_named_entities(media_id=media_id, named_entities=True).data \
        .is_generated_named_entities is True
    media = wait_for(api, media_id, lambda m: m["namedEntities"]["status"] == "ready", timeout=60)
    assert {(e["text"], e["type"]) for e in media["namedEntities"]["data"]["entities"]} == set(found)


@IN_ONE_PASS  # scoring frames does not touch the database beyond what the other tests here cover in both passes
def test_video_moderation_flags_when_it_is_shown(api: httpx.Client, server: Server, file_server: str,
                                                 speech_clips: Path) -> None:
    """4 s of test pattern, then 4 s of tests/data/moderation_flagged.png (abstract blobs the model takes for nudity),
    asked for at create time; and a media with no picture, whose `video` moderation fails saying why."""
    run_ffmpeg(["-y", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=5:duration=4", "-loop", "1", "-framerate", "5",
                "-t", "4", "-i", str(FLAGGED), "-filter_complex", "[1]scale=320:180,setsar=1[b];[0][b]concat=n=2",
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "10",
                str(speech_clips / "flagged.mp4")], timeout=60)
    assert api.post("/webhooks", json={"url": f"{file_server}/moderation-hook"}).status_code == 201
    shown = create_media(api, f"{file_server}/flagged.mp4", moderation={"type": "video"})["id"]
    heard = create_media(api, f"{file_server}/speech.ogg", moderation={"type": "video"})["id"]

    media = wait_for(api, shown, lambda m: m.get("moderation", {}).get("status") == "ready", timeout=60)
    moderation = media["moderation"]["data"]
    assert moderation["type"] == "video" and moderation["frames"] == 4 and moderation["scores"]["nudity"] > 0.5
    [flag] = moderation["flagged"]
    assert (flag["category"], flag["start"], flag["end"]) == ("nudity", 4.0, 8.0) and flag["score"] > 0.5
    assert "video.mediaAI.moderation.ready" in {e.type for e in webhook_events(server) if e.object_id == shown}

    media = wait_for(api, heard, lambda m: m.get("moderation", {}).get("status") == "failed", timeout=60)
    assert media["moderation"]["error"] == (
        "the media has no video to moderate; ask for 'audio' moderation instead of 'video'")
