"""Progressive publishing: a media plays while its ladder is encoded, from growing playlists that never name a
segment that is not stored, and an encode that breaks halfway leaves nothing served.

The server here runs ffmpeg through a wrapper that can slow the encode to real time (`-re`), so the growing state
is there to be seen, and kill it halfway, as a crash or a broken source would.
"""

from __future__ import annotations

import contextlib
import stat
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import av
import httpx
import m3u8
import pytest
from sqlalchemy import func, select

from reelhouse.db.enums import JobKind
from reelhouse.db.models import EncodePart, Job, Media, Rendition, WebhookEvent, new_id, utcnow
from reelhouse.jobs.queue import enqueue
from reelhouse.media import hls
from reelhouse.media.ffmpeg import find_ffmpeg
from reelhouse.playback.images import _frame_source
from reelhouse.storage.keys import rendition_prefix
from reelhouse.storage.memory import MemoryStorage
from reelhouse.testing import Server, free_port, make_token, start_server
from reelhouse.wire.errors import ApiError
from tests.clips import make_clip
from tests.conftest import IN_ONE_PASS, ON_POSTGRES, fresh_postgres, server_settings, wait_for, wait_until

MPEG2 = {"vcodec": "mpeg2video", "acodec": "mp2"}  # not playable as it is: encoded into the whole ladder
VTT = "WEBVTT\n\n00:00.500 --> 00:02.000\nFirst words\n\n00:04.000 --> 00:04.800\nLast words\n"

WRAPPER = """#!{python}
import ctypes, os, signal, subprocess, sys, time
args = sys.argv[1:]
if "hls" in args and os.path.exists({slow!r}):
    args.insert(args.index("-i"), "-re")
# PR_SET_PDEATHSIG: killing this wrapper kills its ffmpeg too, as killing ffmpeg itself would.
process = subprocess.Popen([{ffmpeg!r}, *args], preexec_fn=lambda: ctypes.CDLL(None).prctl(1, signal.SIGKILL))
while process.poll() is None:
    if "hls" in args and os.path.exists({kill!r}) and ("-ss" in args or open({kill!r}).read() != "chunks"):
        process.kill()
        process.wait()
        sys.stderr.write("killed halfway\\n")
        sys.exit(1)
    time.sleep(0.05)
sys.exit(process.returncode)
"""


# ---------------------------------------------------------------- pure


def test_an_event_playlist_only_grows_and_ends_with_endlist():
    growing = hls.event_playlist("init.mp4", [("seg_00000.m4s", 1.0)], 4, ended=False)
    more = hls.event_playlist("init.mp4", [("seg_00000.m4s", 1.0), ("seg_00001.m4s", 3.0)], 4, ended=False)
    final = hls.event_playlist("init.mp4", [("seg_00000.m4s", 1.0), ("seg_00001.m4s", 3.0)], 4, ended=True)
    assert more.startswith(growing) and final.startswith(more) and final.endswith("#EXT-X-ENDLIST\n")
    parsed = m3u8.loads(growing)
    assert parsed.playlist_type == "event" and parsed.start.time_offset == 0 and not parsed.is_endlist
    assert parsed.segment_map[0].uri == "init.mp4" and parsed.target_duration == 4
    assert hls.target_duration(4.04) == 4 and hls.target_duration(4.6) == 5


# ---------------------------------------------------------------- a server whose ffmpeg can be slowed or killed


class Encodes:
    def __init__(self, folder: Path) -> None:
        self.slow_flag, self.kill_flag = folder / "slow", folder / "kill"

    def slow(self, on: bool = True) -> None:
        self.slow_flag.touch() if on else self.slow_flag.unlink(missing_ok=True)

    def kill(self, on: bool = True, *, chunks_only: bool = False) -> None:
        """Kills encodes as they run: all of them, or only those of a long source's later chunks."""
        self.kill_flag.write_text("chunks" if chunks_only else "") if on else self.kill_flag.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def encodes(tmp_path_factory: pytest.TempPathFactory) -> Encodes:
    return Encodes(tmp_path_factory.mktemp("flags"))


@contextlib.contextmanager
def wrapped_server(folder: Path, encodes: Encodes, **settings: object) -> Iterator[tuple[Server, tuple[str, str]]]:
    """A server of its own whose ffmpeg `encodes` can slow down or kill."""
    wrapper = folder / "ffmpeg"
    wrapper.write_text(WRAPPER.format(python=sys.executable, ffmpeg=find_ffmpeg(), slow=str(encodes.slow_flag),
                                      kill=str(encodes.kill_flag)))
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    with fresh_postgres() if ON_POSTGRES else contextlib.nullcontext() as database_url:
        config = server_settings(folder / "data", database_url).model_copy(
            update={"ffmpeg_path": str(wrapper), **settings})
        credentials = make_token(config)
        running = start_server(config)
        try:
            yield running, credentials
        finally:
            running.stop()


@pytest.fixture(scope="module")
def wrapped(tmp_path_factory: pytest.TempPathFactory, encodes: Encodes) -> Iterator[tuple[Server, tuple[str, str]]]:
    with wrapped_server(tmp_path_factory.mktemp("progressive"), encodes) as running:
        yield running


@contextlib.contextmanager
def hooked_client(server: Server, credentials: tuple[str, str]) -> Iterator[httpx.Client]:
    """An API client for `server`, with a webhook endpoint registered so the outbox records the events (nothing
    answers there: deliveries just retry)."""
    with httpx.Client(base_url=f"{server.url}/v1", auth=credentials, timeout=30) as client:
        assert client.post("/webhooks", json={"url": f"http://127.0.0.1:{free_port()}/hook"}).status_code == 201
        yield client


@pytest.fixture(scope="module")
def wapi(wrapped) -> Iterator[httpx.Client]:
    with hooked_client(*wrapped) as client:
        yield client


def pull(api: httpx.Client, file_server: str, clips: Path, name: str, *, subtitles: str | None = None,
         **options: object) -> dict:
    """Creates a public media from the clip `name` (made with `options` the first time), with English subtitles when
    given; returns the created media."""
    if not (clips / name).exists():
        make_clip(clips / name, **options)
    inputs = [{"type": "video", "url": f"{file_server}/{name}"}]
    if subtitles is not None:
        (clips / f"{name}.vtt").write_text(subtitles)
        inputs.append({"type": "subtitle", "url": f"{file_server}/{name}.vtt", "languageCode": "en",
                       "languageName": "English"})
    response = api.post("/on-demand", json={"inputs": inputs, "accessPolicy": "public"})
    assert response.status_code == 201, response.text
    return response.json()["data"]


@pytest.fixture
def create(wapi, file_server, clips):
    return lambda name, **options: pull(wapi, file_server, clips, name, **options)


def _status(api: httpx.Client, media_id: str, until: tuple[str, ...]) -> dict:
    return wait_for(api, media_id, lambda m: m["status"] in until)


class Viewer:
    """What a VOD player sees, sampled as often as it can: every listed segment must be fetchable, each playlist
    may only grow, and the first look at it must already play from the start."""

    def __init__(self, base: str, playback_id: str) -> None:
        self.base, self.pid = base, playback_id
        self.seen: dict[str, list[tuple[str, float]]] = {}
        self.grew = False  # some sample saw a playlist without EXT-X-ENDLIST
        self.fetched: set[str] = set()

    def sample(self) -> bool:
        """One look at every rendition; True once all of them have ended."""
        master = httpx.get(f"{self.base}/stream/{self.pid}.m3u8")
        assert master.status_code == 200
        parsed = m3u8.loads(master.text)
        uris = [p.uri for p in parsed.playlists] + [m.uri for m in parsed.media if m.uri]
        ended = True
        for uri in uris:
            url = f"{self.base}/stream/{uri}"
            response = httpx.get(url)
            assert response.status_code == 200, url
            playlist = m3u8.loads(response.text)
            listed = [(s.uri, s.duration) for s in playlist.segments]
            before = self.seen.get(uri, [])
            assert listed[:len(before)] == before, "a playlist may only grow"
            assert listed, "a listed rendition has a segment"
            assert playlist.segment_map or "/track-" in uri, "a listed rendition has its init segment"
            self.seen[uri] = listed
            if not playlist.is_endlist:
                self.grew, ended = True, False
            if "/track-" not in uri:  # added tracks are whole VOD playlists from the start
                assert playlist.playlist_type == "event" and playlist.start.time_offset == 0
            folder = url.rsplit("/", 1)[0]
            for name in [*(m.uri for m in playlist.segment_map), *(s for s, _ in listed)]:
                got = httpx.get(f"{folder}/{name}")
                assert got.status_code == 200, f"{folder}/{name} is listed but not served"
                self.fetched.add(f"{folder}/{name}")
        return ended


def decoded(url: str, kind: str) -> list[float]:
    """Every frame's presentation time in the whole rendition, decoded by ffmpeg's own HLS demuxer."""
    with av.open(url) as container:
        stream = container.streams.video[0] if kind == "video" else container.streams.audio[0]
        return sorted(float(frame.pts * stream.time_base) for packet in container.demux(stream)
                      for frame in packet.decode() if frame.pts is not None)


def test_a_growing_ladder_is_always_playable_and_ends_as_a_whole_vod(wrapped, wapi, encodes, create):
    server, _ = wrapped
    encodes.slow()
    try:
        created = create("progressive.ts", seconds=5, width=640, height=480, subtitles=VTT, **MPEG2)
        media = _status(wapi, created["id"], ("Ready", "Failed"))
        assert media["status"] == "Ready", media.get("error")
        viewer = Viewer(server.url, created["playbackIds"][0]["id"])
        deadline = time.monotonic() + 60
        while not viewer.sample():
            # the subtitles follow the video's segments: they wait for the finished timeline
            track = next(t for t in wapi.get(f"/on-demand/{created['id']}").json()["data"]["tracks"]
                         if t["type"] == "subtitle")
            with server.runtime.db.read() as session:
                growing = not all(r.complete for r in session.get(Media, created["id"]).renditions)
            assert not (growing and track["status"] != "preparing")
            assert time.monotonic() < deadline
            time.sleep(0.2)  # the server shares this process: leave it the CPU to encode and publish
    finally:
        encodes.slow(False)
    assert viewer.grew, "at real-time speed the media is Ready well before its encode ends"
    videos = {uri: listed for uri, listed in viewer.seen.items() if uri.split("/")[1].startswith("v")}
    assert sorted(uri.split("/")[1] for uri in videos) == ["v360", "v480"]
    # the same segment boundaries on every rung: a short first segment, then 4 s ones
    durations = [[round(d, 2) for _, d in listed] for listed in videos.values()]
    assert durations[0] == durations[1] and [round(d, 1) for d in durations[0][:2]] == [0.5, 3.5]
    assert abs(sum(durations[0]) - 5) < 0.1
    audio = viewer.seen[next(uri for uri in viewer.seen if "/audio/" in uri)]
    assert abs(sum(d for _, d in audio) - 5) < 0.1
    with server.runtime.db.read() as session:
        rows = session.scalars(select(Rendition).where(Rendition.media_id == created["id"])).all()
        assert all(r.complete and abs(r.duration - 5) < 0.1 and r.bandwidth >= r.average_bandwidth > 0 for r in rows)
    wait_for(wapi, created["id"], lambda m: all(t["status"] == "available" for t in m["tracks"]))
    subtitles = Viewer(server.url, created["playbackIds"][0]["id"])
    assert subtitles.sample()
    cues = next(listed for uri, listed in subtitles.seen.items() if uri.split("/")[1].startswith("track-"))
    assert [round(d, 2) for _, d in cues] == durations[0]
    for uri in [uri for uri in viewer.seen if "/track-" not in uri]:
        kind = "audio" if "/audio/" in uri else "video"
        times = decoded(f"{server.url}/stream/{uri}", kind)
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert max(gaps) < (0.05 if kind == "video" else 0.03), f"{uri} has a gap"
        assert abs(times[-1] - times[0] - 5) < 0.1


def test_an_encode_killed_halfway_fails_the_media_and_serves_nothing(wrapped, wapi, encodes, create):
    server, _ = wrapped
    encodes.slow()
    try:
        created = create("broken.ts", seconds=5, width=320, height=240, **MPEG2)
        assert _status(wapi, created["id"], ("Ready", "Failed"))["status"] == "Ready"
        viewer = Viewer(server.url, created["playbackIds"][0]["id"])
        viewer.sample()
        encodes.kill()
        media = _status(wapi, created["id"], ("Failed",))
    finally:
        encodes.kill(False)
        encodes.slow(False)
    assert "transcoding failed" in media["error"] and "killed halfway" in media["error"]
    pid = created["playbackIds"][0]["id"]
    assert httpx.get(f"{server.url}/stream/{pid}.m3u8").status_code == 404
    for uri in viewer.seen:
        assert httpx.get(f"{server.url}/stream/{uri}").status_code == 404
    assert viewer.fetched and all(httpx.get(url).status_code == 404 for url in viewer.fetched)
    with server.runtime.db.read() as session:
        types = session.scalars(select(WebhookEvent.type).where(WebhookEvent.object_id == created["id"])
                                .order_by(WebhookEvent.seq)).all()
        assert session.scalar(select(func.count()).select_from(Rendition)
                              .where(Rendition.media_id == created["id"])) == 0
    assert types[-1] == "video.media.failed" and "video.media.ready" in types
    assert not server.runtime.storage.list(f"media/{created['id']}/hls")


def test_a_retry_after_a_crash_keeps_what_was_published_and_finishes_the_rest(wrapped, wapi, encodes, create):
    server, _ = wrapped
    created = create("crashed.ts", seconds=3, width=320, height=240, **MPEG2)
    _status(wapi, created["id"], ("Ready",))
    wait_until_done(server, created["id"])
    rt, pid = server.runtime, created["playbackIds"][0]["id"]
    whole = {name: m3u8.loads(httpx.get(f"{server.url}/stream/{pid}/{name}/index.m3u8").text)
             for name in ("v240", "audio")}
    first = rt.storage.read(f"{rendition_prefix(created['id'], 'v240')}/seg_00000.m4s")
    # what a crash after the first segments leaves: growing playlists of what was recorded, a part not done, and a
    # segment stored but not yet recorded; more of the audio than of the video, as when the crash fell between them
    recorded = {"v240": 1, "audio": 2}
    with rt.db.write() as session:
        media = session.get(Media, created["id"])
        part = session.get(EncodePart, (media.id, JobKind.TRANSCODE, 0))
        part.outputs = {name: {**written, "segments": written["segments"][:recorded[name]]}
                        for name, written in part.outputs.items()}
        part.done = False
        for rendition in media.renditions:
            rendition.complete = False
            kept = part.outputs[rendition.name]["segments"]
            text = hls.event_playlist("init.mp4", [(uri, d) for uri, d, _ in kept], 4, ended=False)
            rt.storage.write(f"{rendition_prefix(media.id, rendition.name)}/index.m3u8", [text.encode()])
        rt.storage.write(f"{rendition_prefix(media.id, 'v240')}/seg_00001.m4s", [b"half-written"])
    viewer = Viewer(server.url, pid)
    viewer.sample()
    encodes.slow()  # at real time, so the viewer looks while the retry re-makes what the crash left
    try:
        with rt.db.write() as session:
            enqueue(session, JobKind.TRANSCODE, session.get(Media, created["id"]))
        deadline = time.monotonic() + 60
        while not viewer.sample():
            assert time.monotonic() < deadline, "the retry ended every playlist"
            time.sleep(0.1)
    finally:
        encodes.slow(False)
    wait_until_done(server, created["id"])
    for name, before in whole.items():
        after = m3u8.loads(httpx.get(f"{server.url}/stream/{pid}/{name}/index.m3u8").text)
        assert [(x.uri, x.duration) for x in after.segments] == [(x.uri, x.duration) for x in before.segments]
    assert rt.storage.read(f"{rendition_prefix(created['id'], 'v240')}/seg_00001.m4s") != b"half-written"
    assert rt.storage.read(f"{rendition_prefix(created['id'], 'v240')}/seg_00000.m4s") == first  # kept, not redone
    times = decoded(f"{server.url}/stream/{pid}/v240/index.m3u8", "video")
    assert max(b - a for a, b in zip(times, times[1:])) < 0.05 and abs(times[-1] - times[0] - 3) < 0.1
    with rt.db.read() as session:
        assert all(r.complete for r in session.get(Media, created["id"]).renditions)
        ready = session.scalar(select(func.count()).select_from(WebhookEvent).where(
            WebhookEvent.object_id == created["id"], WebhookEvent.type == "video.media.ready"))
    assert ready == 1  # it stayed Ready: no second announcement
    assert wapi.get(f"/on-demand/{created['id']}").json()["data"]["status"] == "Ready"


def test_a_worker_whose_encode_was_taken_over_stops_and_the_new_attempt_finishes(wrapped, wapi, encodes, create):
    """A worker that stalled past its lease, its job claimed by another meanwhile, records and removes nothing
    more, and stops its ffmpeg rather than encode on for nothing: the attempt that took over owns the playlists,
    which only ever grow."""
    server, _ = wrapped
    rt = server.runtime
    encodes.slow()
    try:
        created = create("stalled.ts", seconds=20, width=320, height=240, **MPEG2)
        _status(wapi, created["id"], ("Ready",))
        viewer = Viewer(server.url, created["playbackIds"][0]["id"])
        viewer.sample()
        with rt.db.write() as session:  # another worker's claim, as when a stalled one's lease ran out
            taken = session.scalars(select(Job).where(Job.media_id == created["id"],
                                                      Job.kind == JobKind.TRANSCODE)).one()
            stalled = server.settings.scratch_dir / f"{taken.id}.{taken.claim}"  # the stalled attempt's, while it runs
            taken.attempts, taken.claim = taken.attempts + 1, new_id()
            taken.lease_until = utcnow() + timedelta(minutes=5)  # held by this test meanwhile
        recorded = _recorded(server, created["id"])
        assert stalled.is_dir()
        # Its ffmpeg, at real time, has most of the 20 s still to encode: the attempt ends long before, once stopped.
        wait_until(lambda: not stalled.exists(), timeout=12, what="the stalled attempt stopping")
        assert _recorded(server, created["id"]) == recorded, "the attempt taken over published more"
        viewer.sample()
    finally:
        encodes.slow(False)
    rt.jobs.retry_or_fail(taken, "the test lets it go", permanent=False)  # queued again for any worker to take
    wait_until_done(server, created["id"])
    assert viewer.sample(), "the attempt that took over ended every playlist"
    times = decoded(f"{server.url}/stream/{created['playbackIds'][0]['id']}/v240/index.m3u8", "video")
    assert max(b - a for a, b in zip(times, times[1:])) < 0.05 and abs(times[-1] - times[0] - 20) < 0.1


def _recorded(server: Server, media_id: str) -> dict[str, int]:
    """How many segments of each rendition the encode's part has recorded."""
    with server.runtime.db.read() as session:
        part = session.get(EncodePart, (media_id, JobKind.TRANSCODE, 0))
        return {name: len(written["segments"]) for name, written in part.outputs.items()}


def wait_until_done(server: Server, media_id: str, timeout: float = 60,
                    kinds: tuple[JobKind, ...] = (JobKind.TRANSCODE, JobKind.CHUNK)) -> None:
    """Until no job of `kinds` (by default the media's encode: its transcode, and the chunks of a long source) is
    queued or running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with server.runtime.db.read() as session:
            busy = session.scalar(select(func.count()).select_from(Job).where(
                Job.media_id == media_id, Job.kind.in_(kinds),
                Job.status.in_(("queued", "running"))))
        if not busy:
            return
        time.sleep(0.1)
    raise AssertionError("the encode did not finish")


# ---------------------------------------------------------------- bad input


@IN_ONE_PASS
@pytest.mark.parametrize(
    ("name", "options", "video_seconds", "audio_seconds"),
    [
        ("sparse.mp4", {"seconds": 12, "gop": 1000}, 12, 12),  # one keyframe: too far apart to copy
        ("short_audio.ts", {"seconds": 4, "extra": ["-af", "atrim=0:1"], **MPEG2}, 4, 1),
        ("short_video.ts", {"seconds": 4, "extra": ["-vf", "trim=0:1"], **MPEG2}, 1, 4),
    ],
)
def test_awkward_input_ends_as_a_whole_stream(wrapped, wapi, create, name, options, video_seconds, audio_seconds):
    server, _ = wrapped
    created = create(name, width=320, height=240, **options)
    assert _status(wapi, created["id"], ("Ready", "Failed"))["status"] == "Ready"
    wait_until_done(server, created["id"])
    viewer = Viewer(server.url, created["playbackIds"][0]["id"])
    assert viewer.sample()
    for uri, listed in viewer.seen.items():
        expected = audio_seconds if "/audio/" in uri else video_seconds
        assert abs(sum(d for _, d in listed) - expected) < 0.15, uri
    video = next(uri for uri in viewer.seen if "/audio/" not in uri)
    durations = [d for _, d in viewer.seen[video]]
    assert round(durations[0], 1) == 0.5 and max(durations) < 4.1  # keyframes forced where segments start


@IN_ONE_PASS
def test_a_truncated_source_plays_what_it_has_or_fails_saying_why(wrapped, wapi, create, clips):
    server, _ = wrapped
    whole = make_clip(clips / "whole.ts", seconds=6, width=320, height=240, **MPEG2)
    data = whole.read_bytes()
    (clips / "truncated.ts").write_bytes(data[: len(data) // 2])
    created = create("truncated.ts")
    media = _status(wapi, created["id"], ("Ready", "Failed"))
    if media["status"] == "Failed":
        assert media["error"]
        return
    wait_until_done(server, created["id"])
    viewer = Viewer(server.url, created["playbackIds"][0]["id"])
    assert viewer.sample()
    video = next(uri for uri in viewer.seen if "/audio/" not in uri)
    times = decoded(f"{server.url}/stream/{video}", "video")
    assert 2 < times[-1] < 4.5 and max(b - a for a, b in zip(times, times[1:])) < 0.05


# ---------------------------------------------------------------- thumbnails while the encode runs


def test_a_thumbnail_past_what_is_encoded_is_a_503_to_retry_when_frames_come_from_renditions(tmp_path):
    storage = MemoryStorage()  # like S3: the original is not on this disk, frames come from a segment
    media = Media(id="m1", renditions=[Rendition(name="v240", type="video", width=320, height=240, bandwidth=1,
                                                 codecs="avc1.640015", average_bandwidth=1, complete=False)])
    growing = hls.event_playlist("init.mp4", [("seg_00000.m4s", 1.0), ("seg_00001.m4s", 3.0)], 4, ended=False)
    storage.write(f"{rendition_prefix('m1', 'v240')}/index.m3u8", [growing.encode()])
    with pytest.raises(ApiError) as refused:
        _frame_source(SimpleNamespace(storage=storage), media, 4.5, tmp_path)
    assert refused.value.status == 503 and refused.value.headers["Retry-After"]
