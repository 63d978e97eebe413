"""Audio and subtitle tracks: the cleaning and packaging (pure), then the official SDK against a real server,
with the HLS read back by ffmpeg (PyAV) and `m3u8`."""

from __future__ import annotations

import codecs
from pathlib import Path

import av
import httpx
import m3u8
import pytest
import webvtt
from fastpix_python import Fastpix, errors
from sqlalchemy import select

from reelhouse.db.models import Media, PlaybackId, Rendition, WebhookEvent
from reelhouse.media import hls, subtitles
from reelhouse.playback.access import Grant
from reelhouse.playback.stream import master_for
from tests.api_helpers import create_media, error_of, invalid_fields
from tests.clips import make_clip
from tests.conftest import Server, wait_for

SRT = """1
00:00:01,000 --> 00:00:02,000
Bonjour <i>monde</i> <script>alert(1)</script> &amp; <font color="red">rouge</font>

2
00:00:03,500 --> 00:00:04,500
à cheval sur deux segments

3
00:00:06,000 --> 00:00:05,000
inversé

4
00:00:08,500 --> 00:00:12,000
jusqu'à la fin

5
00:00:20,000 --> 00:00:21,000
après la fin
"""

VTT = """WEBVTT - English

NOTE written by hand

intro
00:00.500 --> 00:01.500 line:0 align:start
<v Narrator>Hello</v> <b>there</b>

00:00:05.000 --> 00:00:06.000
Second
"""


# ---------------------------------------------------------------- cleaning and packaging (pure)


def times(captions: list[webvtt.Caption]) -> list[tuple[str, str]]:
    return [(c.start, c.end) for c in captions]


def test_srt_with_bom_and_crlf_becomes_clean_webvtt_on_the_media_timeline():
    data = codecs.BOM_UTF8 + SRT.replace("\n", "\r\n").encode()
    captions = subtitles.fit(subtitles.parse(data), 9.0)

    assert times(captions) == [("00:00:01.000", "00:00:02.000"), ("00:00:03.500", "00:00:04.500"),
                               ("00:00:08.500", "00:00:09.000")]  # inverted and late cues dropped, the last clamped
    assert captions[0].raw_text == "Bonjour <i>monde</i> &lt;script&gt;alert(1)&lt;/script&gt; &amp; rouge"
    assert captions[1].raw_text == "à cheval sur deux segments"


def test_webvtt_keeps_cue_settings_and_emphasis_but_not_spans():
    captions = subtitles.fit(subtitles.parse(VTT.encode()), 9.0)

    assert times(captions) == [("00:00:00.500", "00:00:01.500"), ("00:00:05.000", "00:00:06.000")]
    assert captions[0].raw_text == "Hello <b>there</b>" and str(captions[0].settings) == "line:0 align:start"


@pytest.mark.parametrize(
    ("lines", "encoding"),
    [
        (["Привет, мир! Это проверка кодировки субтитров.", "Это второй субтитр, он длиннее первого."], "cp1251"),
        (["Ça va très bien, merci.", "Où est la bibliothèque ?", "Nous allons à la plage après le déjeuner."],
         "cp1252"),
        (["Déjà vu, garçon, où est la forêt?"], "latin-1"),
        (["Привет, мир!"], "utf-16"),
    ],
)
def test_legacy_and_utf16_encodings_are_read(lines: list[str], encoding: str):
    data = "".join(f"{n}\n00:00:0{n},000 --> 00:00:0{n},500\n{text}\n\n" for n, text in enumerate(lines, 1))
    assert [c.raw_text for c in subtitles.parse(data.encode(encoding))] == lines


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (bytes(range(256)) * 64, "not text"),
        (b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nok\x00\x01\n", "binary"),
        (b"just some notes, no cue in sight\n", "neither WebVTT"),
        (b"<!doctype html><html><body>hi</body></html>", "neither WebVTT"),
    ],
)
def test_what_is_not_subtitles_is_refused_with_a_reason(data, reason):
    with pytest.raises(subtitles.SubtitleError, match=reason):
        subtitles.parse(data)


def test_segments_follow_the_video_and_repeat_cues_that_span_a_boundary():
    captions = subtitles.fit(subtitles.parse(SRT.encode()), 9.0)
    documents = subtitles.segments(captions, [4.0, 4.0, 1.0])

    parsed = [webvtt.from_string(d) for d in documents]
    assert [times(p.captions) for p in parsed] == [
        [("00:00:01.000", "00:00:02.000"), ("00:00:03.500", "00:00:04.500")],
        [("00:00:03.500", "00:00:04.500")],
        [("00:00:08.500", "00:00:09.000")],
    ]
    assert all(d.startswith("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n") for d in documents)
    assert subtitles.segments([], [4.0]) == ["WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n"]


def test_vod_playlist_lists_every_segment():
    playlist = m3u8.loads(hls.vod_playlist([("seg_00000.vtt", 4.0), ("seg_00001.vtt", 4.5)]))
    assert [(s.uri, s.duration) for s in playlist.segments] == [("seg_00000.vtt", 4.0), ("seg_00001.vtt", 4.5)]
    assert playlist.target_duration == 5 and playlist.is_endlist and playlist.playlist_type == "vod"


def test_added_audio_is_padded_or_cut_to_the_media_and_normalised_when_asked(tmp_path: Path):
    args = hls.track_audio_command(Path("it.mp3"), tmp_path, 9.0, gain=None)
    assert args[args.index("-map") + 1] == "0:a:0" and args[args.index("-t") + 1] == "9.000"
    assert args[args.index("-af") + 1] == "apad=whole_dur=9.000" and args[args.index("-c:a") + 1] == "aac"
    normalised = hls.track_audio_command(Path("it.mp3"), tmp_path, 9.0, gain=2.0)
    assert normalised[normalised.index("-af") + 1] == "volume=2.00dB,apad=whole_dur=9.000"


def test_master_playlist_names_subtitle_and_audio_groups():
    text = hls.master_playlist(
        [hls.Variant("v/index.m3u8", 900, 800, "avc1.64001F,mp4a.40.2", 320, 240, 25.0, "audio", "subs")],
        [hls.Alternate("AUDIO", "audio", "Original", None, "a/index.m3u8", True),
         hls.Alternate("AUDIO", "audio", "Original", "it", "b/index.m3u8", False),
         hls.Alternate("SUBTITLES", "subs", 'Fr"ench\nCC', "fr", "s/index.m3u8", False,
                       characteristics=hls.CLOSED_CAPTIONS)],
    )
    playlist = m3u8.loads(text)
    assert [m.name for m in playlist.media] == ["Original", "Original 2", "Fr'ench CC"]  # unique, on one line
    subs = playlist.media[2]
    assert (subs.type, subs.group_id, subs.default, subs.autoselect) == ("SUBTITLES", "subs", "NO", "YES")
    assert subs.forced == "NO"
    assert subs.characteristics == hls.CLOSED_CAPTIONS
    assert playlist.playlists[0].stream_info.subtitles == "subs"


def test_audio_only_media_switches_between_its_audio_renditions():
    audios = [Rendition(name="audio", type="audio", codecs="mp4a.40.5", bandwidth=70_000, average_bandwidth=60_000,
                        duration=9.0, label="Original", is_default=True),
              Rendition(name="track-a-0", type="audio", codecs="mp4a.40.2", bandwidth=130_000,
                        average_bandwidth=128_000, duration=9.0, label="Italian", language="it")]
    subs = Rendition(name="track-s-0", type="subtitle", codecs="wvtt", bandwidth=100, average_bandwidth=50,
                     duration=9.0, label="French", language="fr")
    grant = Grant(Media(renditions=[*audios, subs]), PlaybackId(id="p", access_policy="public"), None)

    playlist = m3u8.loads(master_for(grant))

    variant = playlist.playlists[0]
    assert [p.uri for p in playlist.playlists] == ["p/audio/index.m3u8"]
    assert variant.stream_info.codecs == "mp4a.40.5,mp4a.40.2"
    assert (variant.stream_info.audio, variant.stream_info.subtitles) == ("audio", "subs")
    assert [(m.type, m.name, m.default) for m in playlist.media] == [("AUDIO", "Original", "YES"),
                                                                     ("AUDIO", "Italian", "NO"),
                                                                     ("SUBTITLES", "French", "NO")]


# ---------------------------------------------------------------- against a real server


@pytest.fixture(scope="module")
def track_files(clips: Path) -> Path:
    """Track files the file server hands out, next to the clips."""
    make_clip(clips / "tracks9.mp4", seconds=9, gop=25)
    make_clip(clips / "it.mp3", seconds=12)  # longer than the media: cut to it
    (clips / "fr.srt").write_bytes(codecs.BOM_UTF8 + SRT.replace("\n", "\r\n").encode())
    (clips / "en.vtt").write_text(VTT)
    (clips / "fr2.vtt").write_text("WEBVTT\n\n00:00:02.000 --> 00:00:03.000\nNouveau texte\n")
    (clips / "garbage.vtt").write_bytes(bytes(range(256)) * 64)
    (clips / "notes.srt").write_text("these are notes, not subtitles\n")
    return clips


def ready_media(api: httpx.Client, url: str) -> dict:
    created = create_media(api, url)
    media = wait_for(api, created["id"], lambda m: m["status"] in ("Ready", "Failed"))
    assert media["status"] == "Ready", media
    return media


def track_of(api: httpx.Client, media_id: str, track_id: str) -> dict:
    """The track as get-media shows it, once it is no longer preparing."""
    media = wait_for(api, media_id, lambda m: any(t["id"] == track_id and t["status"] != "preparing"
                                                  for t in m["tracks"]))
    return next(t for t in media["tracks"] if t["id"] == track_id)


def master_url(server: Server, media: dict) -> str:
    return f"{server.url}/stream/{media['playbackIds'][0]['id']}.m3u8"


def master(server: Server, media: dict) -> m3u8.M3U8:
    url = master_url(server, media)
    response = httpx.get(url)
    assert response.status_code == 200
    return m3u8.loads(response.text, uri=url)


def cues(playlist_url: str) -> list[tuple[float, float, str]]:
    """Every cue of a segmented WebVTT rendition as (start, end, text), read segment by segment, repeats merged."""
    found: dict[tuple[float, float, str], None] = {}
    playlist = m3u8.load(playlist_url)
    for segment in playlist.segments:
        response = httpx.get(segment.absolute_uri)
        assert response.status_code == 200 and response.headers["content-type"] == "text/vtt; charset=utf-8"
        assert response.headers["x-content-type-options"] == "nosniff"
        for c in webvtt.from_string(response.text).captions:
            found[(c.start_time.in_milliseconds() / 1000, c.end_time.in_milliseconds() / 1000, c.raw_text)] = None
    return list(found)


def rendition_folders(server: Server, media_id: str) -> list[str]:
    hls_dir = server.settings.data_dir / "objects" / "media" / media_id / "hls"
    return sorted(p.name for p in hls_dir.iterdir() if p.name.startswith("track-"))


def test_tracks_added_updated_and_deleted_through_the_sdk(
    fp: Fastpix, api: httpx.Client, server: Server, file_server: str, track_files: Path
) -> None:
    assert api.post("/webhooks", json={"url": f"{file_server}/hook"}).status_code == 201
    media = ready_media(api, f"{file_server}/tracks9.mp4")
    media_id = media["id"]

    audio = fp.manage_videos.add_media_track(media_id=media_id, tracks={
        "url": f"{file_server}/it.mp3", "type": "audio", "language_code": "it", "language_name": "Italian"}).data
    subs = fp.manage_videos.add_media_track(media_id=media_id, tracks={
        "url": f"{file_server}/fr.srt", "type": "subtitle", "language_code": "fr", "language_name": "French"}).data
    assert (audio.type, audio.language_code, audio.language_name, audio.url) == ("audio", "it", "Italian",
                                                                                 f"{file_server}/it.mp3")
    with pytest.raises(errors.TrackDuplicateRequestError):
        fp.manage_videos.add_media_track(media_id=media_id, tracks={
            "url": f"{file_server}/en.vtt", "type": "subtitle", "language_code": "FR", "language_name": "Encore"})
    assert track_of(api, media_id, audio.id)["status"] == "available"
    assert track_of(api, media_id, subs.id)["status"] == "available"
    assert fp.manage_videos.get_media(media_id=media_id).data.subtitle_available is True

    # the master: the Italian dub in the original's audio group, French subtitles named by every variant
    playlist = master(server, media)
    italian = next(m for m in playlist.media if m.language == "it")
    assert (italian.type, italian.group_id, italian.name, italian.default) == ("AUDIO", "audio", "Italian", "NO")
    french = next(m for m in playlist.media if m.type == "SUBTITLES")
    assert (french.group_id, french.language, french.name, french.default) == ("subs", "fr", "French", "NO")
    assert all(p.stream_info.subtitles == "subs" and p.stream_info.audio == "audio" for p in playlist.playlists)
    with av.open(master_url(server, media)) as container:  # ffmpeg's own HLS reader finds the alternates
        assert sorted(s.metadata["language"] for s in container.streams.audio) == ["it", "und"]
        assert [(s.codec_context.name, s.metadata["language"]) for s in container.streams.subtitles] == [
            ("webvtt", "fr")]
    with av.open(italian.absolute_uri) as dub:
        stream = dub.streams.audio[0]
        packets = [p for p in dub.demux(stream) if p.pts is not None]
        end = float((packets[-1].pts + packets[-1].duration) * stream.time_base)
        assert stream.codec_context.name == "aac" and stream.channels == 2 and abs(end - 9.0) < 0.1  # cut to 9 s

    # the subtitles: one WebVTT segment per video segment, cues where the SRT put them, markup escaped
    video = m3u8.load(playlist.playlists[0].absolute_uri)
    text = m3u8.load(french.absolute_uri)
    assert [s.duration for s in text.segments] == [s.duration for s in video.segments] == [4.0, 4.0, 1.0]
    assert cues(french.absolute_uri) == [
        (1.0, 2.0, "Bonjour <i>monde</i> &lt;script&gt;alert(1)&lt;/script&gt; &amp; rouge"),
        (3.5, 4.5, "à cheval sur deux segments"),
        (8.5, 9.0, "jusqu'à la fin"),
    ]

    # new labels apply at once under the same id; a new file replaces the rendition once it is ready
    renamed = fp.manage_videos.update_media_track(media_id=media_id, track_id=audio.id, language_name="Italiano").data
    assert (renamed.id, renamed.language_name) == (audio.id, "Italiano")
    assert [m.name for m in master(server, media).media if m.language == "it"] == ["Italiano"]
    old_folders = rendition_folders(server, media_id)
    replaced = api.patch(f"/on-demand/{media_id}/tracks/{subs.id}",
                         json={"url": f"{file_server}/fr2.vtt", "languageCode": "fr", "languageName": "Français"})
    assert replaced.status_code == 200 and replaced.json()["data"]["status"] == "preparing"
    assert track_of(api, media_id, subs.id)["status"] == "available"
    french = next(m for m in master(server, media).media if m.type == "SUBTITLES")
    assert french.name == "Français" and cues(french.absolute_uri) == [(2.0, 3.0, "Nouveau texte")]
    assert len(rendition_folders(server, media_id)) == 2 and rendition_folders(server, media_id) != old_folders

    # deleting takes the track out of the master and out of storage
    assert fp.manage_videos.delete_media_track(media_id=media_id, track_id=subs.id).success is True
    after = master(server, media)
    assert not any(m.type == "SUBTITLES" for m in after.media)
    assert all(p.stream_info.subtitles is None for p in after.playlists)
    assert len(rendition_folders(server, media_id)) == 1
    assert fp.manage_videos.get_media(media_id=media_id).data.subtitle_available is False
    with pytest.raises(errors.MediaNotFoundError):
        fp.manage_videos.delete_media_track(media_id=media_id, track_id=subs.id)

    with server.runtime.db.read() as session:
        events = [e for e in session.scalars(select(WebhookEvent.type).order_by(WebhookEvent.seq))
                  if e.startswith("video.media.track") or e == "video.media.updated"]
    assert events == [
        "video.media.track.created", "video.media.track.created",  # added
        "video.media.track.ready", "video.media.updated", "video.media.track.ready", "video.media.updated",  # made
        "video.media.track.updated", "video.media.updated",  # renamed
        "video.media.track.updated", "video.media.track.ready", "video.media.updated",  # new file, then made
        "video.media.track.deleted", "video.media.updated",  # deleted
    ]


def test_subtitles_given_at_create_time_play_once_the_media_is_ready(
    api: httpx.Client, server: Server, file_server: str, track_files: Path
) -> None:
    subtitle = {"type": "subtitle", "url": f"{file_server}/en.vtt", "languageCode": "en-US", "languageName": "English"}
    created = create_media(api, f"{file_server}/clip.mp4", inputs=[
        {"type": "video", "url": f"{file_server}/clip.mp4"}, subtitle])
    assert created["inputs"][1] == subtitle
    media = wait_for(api, created["id"], lambda m: m["tracks"] and m["tracks"][-1]["status"] != "preparing")
    track = media["tracks"][-1]
    assert (track["type"], track["status"], track["languageCode"]) == ("subtitle", "available", "en-US")
    assert media["subtitleAvailable"] is True
    english = next(m for m in master(server, media).media if m.type == "SUBTITLES")
    assert cues(english.absolute_uri) == [(0.5, 1.5, "Hello <b>there</b>")]  # the 5 s cue is past this 2 s clip

    captions = {**subtitle, "languageCode": "en-GB", "languageName": "English CC", "closedCaptions": True}
    added = api.post(f"/on-demand/{media['id']}/tracks", json={"tracks": captions}).json()["data"]
    assert added["closedCaptions"] is True and track_of(api, media["id"], added["id"])["status"] == "available"
    entries = {m.language: m for m in master(server, media).media if m.type == "SUBTITLES"}
    assert entries["en-GB"].characteristics == hls.CLOSED_CAPTIONS and entries["en-US"].characteristics is None

    missing = {"type": "subtitle", "url": f"{file_server}/en.vtt"}
    body = {"inputs": [{"type": "video", "url": f"{file_server}/clip.mp4"}, missing], "accessPolicy": "public"}
    assert invalid_fields(api.post("/on-demand", json=body)) == ["inputs.1"]


def test_bad_tracks_are_refused_or_fail_with_a_reason_and_the_master_stays_whole(
    api: httpx.Client, server: Server, file_server: str, track_files: Path
) -> None:
    media = ready_media(api, f"{file_server}/silent.mp4")
    media_id = media["id"]
    other = create_media(api, f"{file_server}/clip.mp4")["id"]
    good = {"url": f"{file_server}/fr.srt", "type": "subtitle", "languageCode": "fr", "languageName": "French"}
    foreign = api.post(f"/on-demand/{other}/tracks", json={"tracks": good}).json()["data"]["id"]

    unknown = "00000000-0000-4000-8000-000000000000"
    assert error_of(api.post(f"/on-demand/{unknown}/tracks", json={"tracks": good}), 404)
    assert error_of(api.patch(f"/on-demand/{media_id}/tracks/{unknown}", json={"title": "x"}), 404)
    assert error_of(api.delete(f"/on-demand/{media_id}/tracks/{foreign}"), 404)["message"] == "Track not found"
    assert invalid_fields(api.delete(f"/on-demand/{media_id}/tracks/not-a-uuid")) == ["trackId"]
    for change, field in [
        ({"type": None}, "tracks.type"),
        ({"type": "video"}, "tracks.type"),
        ({"languageCode": None}, "tracks.languageCode"),
        ({"languageCode": "no way"}, "tracks.languageCode"),
        ({"languageName": ""}, "tracks.languageName"),
        ({"languageName": "a\nb"}, "tracks.languageName"),
        ({"url": None}, "tracks.url"),
    ]:
        spec = {k: v for k, v in {**good, **change}.items() if v is not None}
        assert invalid_fields(api.post(f"/on-demand/{media_id}/tracks", json={"tracks": spec})) == [field], change
    assert error_of(api.post(f"/on-demand/{media_id}/tracks", json={"tracks": {**good, "url": "http://10.0.0.1/x"}}),
                    400)["message"] == "Invalid track URL"
    source = next(t for t in media["tracks"] if t["type"] == "video")
    assert error_of(api.delete(f"/on-demand/{media_id}/tracks/{source['id']}"), 400)["message"] == "Source track"

    reasons = {
        ("subtitle", "garbage.vtt"): "not text",
        ("subtitle", "notes.srt"): "neither WebVTT",
        ("subtitle", "page.html"): "HTML page",
        ("subtitle", "missing.vtt"): "HTTP 404",
        ("audio", "silent.mp4"): "no audio stream",
        ("audio", "garbage.mp4"): "not an audio file",
    }
    ids = {}
    for n, (kind, file) in enumerate(reasons):
        spec = {"url": f"{file_server}/{file}", "type": kind, "languageCode": "qa" + "abcdef"[n], "languageName": file}
        ids[(kind, file)] = api.post(f"/on-demand/{media_id}/tracks", json={"tracks": spec}).json()["data"]["id"]
    for key, reason in reasons.items():
        track = track_of(api, media_id, ids[key])
        assert track["status"] == "failed" and reason in track["error"], (key, track)

    # nothing failed reached the master; the first audio track gives the silent video an audio group
    assert not master(server, media).media
    dub = {"url": f"{file_server}/it.mp3", "type": "audio", "languageCode": "it", "languageName": "Italian"}
    dub_id = api.post(f"/on-demand/{media_id}/tracks", json={"tracks": dub}).json()["data"]["id"]
    assert track_of(api, media_id, dub_id)["status"] == "available"
    duplicate = api.patch(f"/on-demand/{media_id}/tracks/{dub_id}", json={"languageCode": "QAE"})  # silent.mp4's
    assert error_of(duplicate, 400)["message"] == "Duplicate track"
    playlist = master(server, media)
    assert [(m.type, m.language, m.default) for m in playlist.media] == [("AUDIO", "it", "YES")]
    assert playlist.playlists[0].stream_info.audio == "audio"
    assert playlist.playlists[0].stream_info.codecs.endswith(",mp4a.40.2")
    with av.open(master_url(server, media)) as container:
        assert len(container.streams.audio) == 1 and len(container.streams.video) == 1
