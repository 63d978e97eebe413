"""Chunked encoding: a long source is cut at keyframes into chunks that workers encode as separate jobs, stitched
into one stream per rung without re-encoding: continuous timestamps, the same keyframes on every rung, the audio
encoded once. The server here cuts every 4 s, so a 14 s clip makes three chunks.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from fractions import Fraction
from pathlib import Path

import av
import httpx
import m3u8
import pytest
from sqlalchemy import select

from reelhouse.db.enums import JobKind, JobStatus
from reelhouse.db.models import EncodePart, Job, Media, Rendition, WebhookEvent, utcnow
from reelhouse.jobs.publish import stitch
from reelhouse.media import hls
from reelhouse.media.chunks import WHOLE, Chunk, at_segment_starts, nominal_cuts, plan
from reelhouse.media.ladder import Rung
from reelhouse.testing import Server
from tests.clips import make_clip
from tests.conftest import IN_ONE_PASS, wait_for
from tests.test_progressive import (
    MPEG2,
    Encodes,
    Viewer,
    decoded,
    hooked_client,
    pull,
    wait_until_done,
    wrapped_server,
)

FPS = 25

# ---------------------------------------------------------------- pure


def test_cuts_fall_every_chunk_and_leave_no_short_last_chunk():
    assert nominal_cuts(7.9, 4) == [] and nominal_cuts(8, 4) == [4] and nominal_cuts(13.9, 4) == [4, 8]
    assert nominal_cuts(14, 4) == [4, 8, 12] and nominal_cuts(600, 60) == [60.0 * i for i in range(1, 10)]


def test_chunks_start_at_keyframes_on_the_output_frame_grid_and_follow_each_other():
    chunks = plan([4.0, 8.0], Fraction(FPS), 4, 14)
    assert chunks == [Chunk(0, 0.0, 0, 100), Chunk(1, 4.0, 100, 100), Chunk(2, 8.0, 200, None)]
    assert chunks[2].offset(Fraction(FPS)) == 8.0
    # a keyframe between frames of the output (variable frame rate) starts the chunk at the nearest one
    assert plan([4.013], Fraction(FPS), 4, 10) == [Chunk(0, 0.0, 0, 100), Chunk(1, 4.013, 100, None)]
    # 29.97 fps: frames, not seconds, carry the cut, so no rounding builds up
    ntsc = plan([60.06], Fraction(30000, 1001), 60, 200)
    assert ntsc[1].first_frame == 1800 and ntsc[0].frames == 1800


def test_sparse_keyframes_give_fewer_longer_chunks_down_to_one():
    assert plan([None, None], Fraction(FPS), 4, 14) == [WHOLE]  # one keyframe only, at the start
    assert plan([6.0, 6.0], Fraction(FPS), 4, 14) == [Chunk(0, 0.0, 0, 150), Chunk(1, 6.0, 150, None)]
    assert plan([13.0], Fraction(FPS), 4, 14) == [WHOLE]  # too close to the end to be worth a chunk


def test_after_a_stream_copy_chunks_begin_where_copied_segments_do():
    starts = [0.0, 4.2, 8.0, 13.5, 16.0]  # a copy's segments start at the source's keyframes, not every 4 s
    assert at_segment_starts(starts, [4, 8, 12]) == [4.2, 8.0, 13.5]
    assert at_segment_starts(starts, [8, 17]) == [8.0]  # no segment starts after 17: no chunk from there on


def test_a_chunk_is_decoded_from_its_keyframe_for_its_frames_and_stamped_with_its_place(tmp_path: Path):
    rungs = [Rung(360, 640, 360, 800_000, Fraction(FPS)), Rung(480, 854, 480, 1_400_000, Fraction(FPS))]
    args = hls.encode_command(tmp_path / "in.ts", tmp_path, rungs, None, hls.every_segment(short_first=False),
                              chunk=Chunk(2, 8.0, 200, 100), threads=1)
    assert args[:5] == ["-y", "-ss", "8.000000", "-i", str(tmp_path / "in.ts")]
    assert args.count("-frames:v") == 2 and args[args.index("-frames:v") + 1] == "100"
    assert args.count("-output_ts_offset") == 2 and args[args.index("-output_ts_offset") + 1] == "8.000000"
    assert "movflags=+frag_discont" in args and "0:a:0" not in args and args.count("-threads") == 2
    assert str(tmp_path / "v360" / "c0002-seg_%05d.m4s") in args
    whole = hls.encode_command(tmp_path / "in.ts", tmp_path, rungs, None, hls.every_segment())
    assert "-ss" not in whole and "-frames:v" not in whole and "-output_ts_offset" not in whole


def _part(index: int, done: bool, segments: list[str], init: str | None = "a") -> EncodePart:
    written = {"longest": 4.04, "init": init, "codecs": "avc1", "segments": [[s, 4.0, 10] for s in segments]}
    return EncodePart(index=index, done=done, outputs={"v360": written})


def test_stitching_lists_parts_in_order_up_to_the_first_still_running():
    parts = [_part(2, True, ["c0002-seg_00000.m4s"]), _part(0, True, ["seg_00000.m4s"]),
             _part(1, False, ["c0001-seg_00000.m4s"])]
    listing = stitch(parts)["v360"]
    assert [s[0] for s in listing.segments] == ["seg_00000.m4s", "c0001-seg_00000.m4s"] and not listing.ended
    parts[2].done = True
    listing = stitch(parts)["v360"]
    assert len(listing.segments) == 3 and listing.ended and listing.duration == 12.0
    with pytest.raises(Exception, match="other settings"):
        stitch([_part(0, True, ["seg_00000.m4s"]), _part(1, True, ["c0001-seg_00000.m4s"], init="b")])


# ---------------------------------------------------------------- a server that cuts every 4 s


@pytest.fixture(scope="module")
def encodes(tmp_path_factory: pytest.TempPathFactory) -> Encodes:
    return Encodes(tmp_path_factory.mktemp("flags"))


@pytest.fixture(scope="module")
def chunked(tmp_path_factory: pytest.TempPathFactory, encodes: Encodes) -> Iterator[tuple[Server, tuple[str, str]]]:
    with wrapped_server(tmp_path_factory.mktemp("chunked"), encodes, chunk_seconds=4.0) as running:
        yield running


@pytest.fixture(scope="module")
def capi(chunked) -> Iterator[httpx.Client]:
    with hooked_client(*chunked) as client:
        yield client


@pytest.fixture
def encoded(capi, file_server, clips):
    """Pulls a clip into the chunking server and waits until it is Ready or Failed (`until` says which may be)."""

    def make(name: str, *, until: tuple[str, ...] = ("Ready",), **options) -> tuple[dict, dict]:
        created = pull(capi, file_server, clips, name, **options)
        media = wait_for(capi, created["id"], lambda m: m["status"] in ("Ready", "Failed"))
        assert media["status"] in until, media.get("error")
        return created, media

    return make


def settle(server: Server, media_id: str) -> None:
    """Until every job of the media's encode is over (chunks of 14 s clips take longer than a whole short one)."""
    wait_until_done(server, media_id, timeout=90)


def keyframes(url: str) -> list[float]:
    with av.open(url) as container:
        stream = container.streams.video[0]
        return [round(float(p.pts * stream.time_base), 3) for p in container.demux(stream) if p.is_keyframe]


def assert_one_continuous_stream(server: Server, pid: str, viewer: Viewer, seconds: float, copied: str = "") -> None:
    """Every rung: the same segment boundaries, keyframes where segments start (a `copied` rung keeps the source's
    others too), every frame there once."""
    videos = {uri: listed for uri, listed in viewer.seen.items() if uri.split("/")[1].startswith("v")}
    boundaries = {tuple(round(d, 3) for _, d in listed) for listed in videos.values()}
    assert len(boundaries) == 1, "every rung is cut at the same instants"
    starts = [round(t, 3) for t in hls.MediaPlaylist(None, next(iter(videos.values()))).starts()]
    for uri in videos:
        url = f"{server.url}/stream/{uri}"
        times = decoded(url, "video")
        gaps = {round(b - a, 4) for a, b in zip(times, times[1:])}
        assert gaps == {1 / FPS}, f"{uri}: frames at irregular times {gaps}"
        assert abs(times[0]) < 1e-6 and len(times) == round(seconds * FPS)
        found = keyframes(url)
        assert set(starts) <= set(found) if uri.startswith(f"{pid}/{copied}/") else found == starts
    audio = decoded(f"{server.url}/stream/{next(uri for uri in viewer.seen if '/audio/' in uri)}", "audio")
    assert max(b - a for a, b in zip(audio, audio[1:])) < 0.03 and abs(audio[-1] - seconds) < 0.1


def parts_of(server: Server, media_id: str) -> list[EncodePart]:
    with server.runtime.db.read() as session:
        return list(session.scalars(select(EncodePart).where(EncodePart.media_id == media_id)
                                    .order_by(EncodePart.index)))


def test_a_long_source_is_encoded_in_chunks_stitched_into_one_stream(chunked, capi, encoded):
    server, _ = chunked
    created, _ = encoded("long_chunked.ts", seconds=14, width=640, height=480, gop=25, **MPEG2)
    settle(server, created["id"])
    parts = parts_of(server, created["id"])
    assert [(p.index, round(p.start, 1), p.first_frame, p.frames, p.done) for p in parts] == [  # TS starts at 0.01
        (0, 0.0, 0, 100, True), (1, 4.0, 100, 100, True), (2, 8.0, 200, 100, True), (3, 12.0, 300, None, True)]
    viewer = Viewer(server.url, created["playbackIds"][0]["id"])
    assert viewer.sample()
    video = next(listed for uri, listed in viewer.seen.items() if "/v480/" in uri)
    assert [uri.split("-")[0] for uri, _ in video if uri.startswith("c")] == ["c0001", "c0002", "c0003"]
    assert_one_continuous_stream(server, created["playbackIds"][0]["id"], viewer, 14)
    with server.runtime.db.read() as session:
        jobs = session.scalars(select(Job).where(Job.media_id == created["id"], Job.kind == JobKind.CHUNK)).all()
        rows = session.scalars(select(Rendition).where(Rendition.media_id == created["id"])).all()
    assert sorted(j.params["index"] for j in jobs) == [1, 2, 3] and all(j.status == JobStatus.DONE for j in jobs)
    assert all(r.complete and abs(r.duration - 14) < 0.1 for r in rows)


def test_a_chunk_whose_worker_died_is_retried_alone(chunked, capi, encoded):
    server, _ = chunked
    created, _ = encoded("long_died.ts", seconds=14, width=320, height=240, gop=25, **MPEG2)
    settle(server, created["id"])
    pid, rt = created["playbackIds"][0]["id"], server.runtime
    before = m3u8.loads(httpx.get(f"{server.url}/stream/{pid}/v240/index.m3u8").text)
    # as a worker that died encoding the third chunk leaves it: the part half recorded, the job running on a lease
    # that ran out, the renditions still growing
    with rt.db.write() as session:
        media = session.get(Media, created["id"])
        part = session.get(EncodePart, (media.id, JobKind.TRANSCODE, 2))
        part.outputs = {name: {**w, "segments": w["segments"][:1]} for name, w in part.outputs.items()}
        part.done = False
        for rendition in media.renditions:
            rendition.complete = False
        job = session.scalar(select(Job).where(Job.media_id == media.id, Job.kind == JobKind.CHUNK,
                                               Job.params["index"].as_integer() == 2))
        job.status, job.lease_until = JobStatus.RUNNING, utcnow() - timedelta(seconds=1)
    attempts = {j.id: j.attempts for j in _jobs(server, created["id"])}
    wait_for(capi, created["id"], lambda m: _done(server, created["id"], job.id))
    after = m3u8.loads(httpx.get(f"{server.url}/stream/{pid}/v240/index.m3u8").text)
    assert after.is_endlist and [s.uri for s in after.segments] == [s.uri for s in before.segments]
    again = {j.id: j.attempts for j in _jobs(server, created["id"])}
    assert again[job.id] == attempts[job.id] + 1
    assert {k: v for k, v in again.items() if k != job.id} == {k: v for k, v in attempts.items() if k != job.id}
    viewer = Viewer(server.url, pid)
    assert viewer.sample()
    assert_one_continuous_stream(server, pid, viewer, 14)


@pytest.mark.parametrize(
    ("name", "seconds", "options", "starts"),
    [
        ("long_copied.mp4", 14, {"gop": 25}, [0.0, 4.0, 8.0, 12.0]),  # a keyframe a second: copied segments of 4 s
        # one every 9 s, past x264's former interval of 8 s: the copy's segments are 9 s long, and so are the rung's
        ("long_copied_far_keyframes.mp4", 20, {"gop": 225}, [0.0, 9.0, 18.0]),
        # copied segments of 5, 4, 3.48 and 1.52 s; the last chunk has two of them, and is cut where the copy is
        ("long_copied_uneven.mp4", 14, {"gop": 1000, "extra": ["-force_key_frames", "0,5,9,12.48"]}, [0.0, 5.0, 9.0]),
    ],
)
def test_the_rungs_a_stream_copy_leaves_out_are_encoded_in_chunks_cut_where_the_copy_is(
    chunked, capi, encoded, name, seconds, options, starts
):
    server, _ = chunked
    created, _ = encoded(name, seconds=seconds, width=640, height=480, **options)  # H.264: copied as v480
    media_id, pid = created["id"], created["playbackIds"][0]["id"]
    deadline = time.monotonic() + 90
    while not _listed(server, media_id, "v360"):
        assert time.monotonic() < deadline, "the smaller rung was never listed"
        time.sleep(0.2)
    wait_until_done(server, media_id, kinds=(JobKind.LADDER, JobKind.LADDER_CHUNK))
    parts = [p for p in parts_of(server, media_id) if p.step == JobKind.LADDER]
    frames = [round(t * FPS) for t in starts]
    assert [(p.index, round(p.start, 2), p.first_frame, p.frames, p.done) for p in parts] == [
        (i, t, f, None if i == len(starts) - 1 else frames[i + 1] - f, True)
        for i, (t, f) in enumerate(zip(starts, frames))]
    chunk_jobs = [j for j in _jobs(server, media_id) if j.kind == JobKind.LADDER_CHUNK]
    assert sorted(j.params["index"] for j in chunk_jobs) == list(range(1, len(starts)))
    assert all(j.status == JobStatus.DONE for j in chunk_jobs)
    viewer = Viewer(server.url, pid)
    assert viewer.sample()
    assert {uri.split("/")[1] for uri in viewer.seen} == {"v360", "v480", "audio"}
    assert_one_continuous_stream(server, pid, viewer, seconds, copied="v480")  # v360 is cut where v480 is


def _listed(server: Server, media_id: str, name: str) -> bool:
    with server.runtime.db.read() as session:
        return any(r.name == name and r.complete for r in session.get(Media, media_id).renditions)


def _jobs(server: Server, media_id: str) -> list[Job]:
    with server.runtime.db.read() as session:
        return list(session.scalars(select(Job).where(Job.media_id == media_id)))


def _done(server: Server, media_id: str, job_id: str) -> bool:
    with server.runtime.db.read() as session:
        job = session.get(Job, job_id)
        return job.status == JobStatus.DONE and all(p.done for p in parts_of(server, media_id))


def test_a_chunk_that_fails_fails_the_media_and_nothing_stays_served(chunked, capi, encoded, encodes):
    server, _ = chunked
    encodes.kill(chunks_only=True)
    try:
        created, media = encoded("long_failing.ts", until=("Ready", "Failed"), seconds=14, width=320, height=240, gop=25,
                                 **MPEG2)
        media = wait_for(capi, created["id"], lambda m: m["status"] == "Failed")
        settle(server, created["id"])
    finally:
        encodes.kill(False)
    assert "transcoding failed" in media["error"] and "killed halfway" in media["error"]
    pid = created["playbackIds"][0]["id"]
    assert httpx.get(f"{server.url}/stream/{pid}.m3u8").status_code == 404
    assert httpx.get(f"{server.url}/stream/{pid}/v240/seg_00000.m4s").status_code == 404
    assert not server.runtime.storage.list(f"media/{created['id']}/hls")
    with server.runtime.db.read() as session:
        types = session.scalars(select(WebhookEvent.type).where(WebhookEvent.object_id == created["id"])
                                .order_by(WebhookEvent.seq)).all()
    assert types.count("video.media.failed") == 1


@IN_ONE_PASS
@pytest.mark.parametrize(
    ("name", "options", "cuts"),
    [
        ("long_one_keyframe.ts", {"gop": 1000}, []),  # no keyframe after the first: one chunk
        ("long_far_keyframes.ts", {"gop": 150}, [6.0, 12.0]),  # one every 6 s: the cuts move to them
        ("long_short_audio.ts", {"extra": ["-af", "atrim=0:5"]}, [4.0, 8.0, 12.0]),
    ],
)
def test_awkward_long_input_is_still_one_continuous_stream(chunked, capi, encoded, name, options, cuts):
    server, _ = chunked
    created, _ = encoded(name, seconds=14, width=320, height=240, **{"gop": 25, **options, **MPEG2})
    settle(server, created["id"])
    assert [round(p.start, 1) for p in parts_of(server, created["id"])][1:] == cuts
    viewer = Viewer(server.url, created["playbackIds"][0]["id"])
    assert viewer.sample()
    video = next(uri for uri in viewer.seen if "/v240/" in uri)
    times = decoded(f"{server.url}/stream/{video}", "video")
    assert {round(b - a, 4) for a, b in zip(times, times[1:])} == {1 / FPS} and len(times) == 14 * FPS


def test_a_truncated_long_source_plays_what_it_has_or_fails_saying_why(chunked, capi, encoded, clips):
    server, _ = chunked
    whole = make_clip(clips / "long_whole.ts", seconds=14, width=320, height=240, gop=25, **MPEG2)
    data = whole.read_bytes()
    (clips / "long_truncated.ts").write_bytes(data[: len(data) // 2])
    created, media = encoded("long_truncated.ts", until=("Ready", "Failed"))
    settle(server, created["id"])
    if media["status"] == "Failed":
        assert media["error"]
        return
    viewer = Viewer(server.url, created["playbackIds"][0]["id"])
    assert viewer.sample()
    video = next(uri for uri in viewer.seen if "/v240/" in uri)
    times = decoded(f"{server.url}/stream/{video}", "video")
    assert 5 < times[-1] < 8 and {round(b - a, 4) for a, b in zip(times, times[1:])} == {1 / FPS}
