"""Segments, downloads and thumbnails from a real `reelhouse serve` process, reached directly (its server sends files
itself, by ASGI pathsend) and through nginx configured by deploy/nginx.conf (reelhouse answers with X-Accel-Redirect,
nginx sends the file). Each process caches access decisions, so these check that the access rules, ranges, HEAD and
content types hold on both paths, and that a change made by another process stops playback on the next request."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import httpx
import numpy as np
import pytest

from reelhouse.media.ffmpeg import run_ffmpeg
from reelhouse.playback import access
from reelhouse.settings import Settings
from reelhouse.testing import free_port, make_token, nginx, nginx_front
from tests.api_helpers import error_of, mint, new_key
from tests.clips import make_clip
from tests.conftest import IN_ONE_PASS

pytestmark = IN_ONE_PASS  # the access cache is SQLite's (the file every process shares), so SQLite is what counts


@dataclass
class Running:
    url: str  # what clients use: reelhouse itself, or the nginx in front of it
    data_dir: Path
    api: httpx.Client
    process: subprocess.Popen[bytes]
    direct: str  # reelhouse itself


def _wait(condition, what: str, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


@pytest.fixture(scope="module", params=["granian", "nginx"])
def running(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """`serve` alone, or behind nginx with deploy/nginx.conf and REELHOUSE_ACCEL_REDIRECT, where nginx also carries
    the API and the uploads."""
    fronted = request.param == "nginx"
    if fronted and shutil.which("nginx") is None:
        pytest.skip("nginx is not installed (apt-get install -y nginx; .ci/run installs it)")
    folder = tmp_path_factory.mktemp("serving")
    data_dir = folder / "data"
    settings = Settings(data_dir=data_dir, port=free_port())
    auth = make_token(settings)
    direct = f"http://127.0.0.1:{settings.port}"
    front_port = free_port()
    url = f"http://127.0.0.1:{front_port}" if fronted else direct
    log = (folder / "serve.log").open("wb")
    env = {**os.environ, "REELHOUSE_DATA_DIR": str(data_dir), "REELHOUSE_PORT": str(settings.port),
           "REELHOUSE_WORKERS": "1", "REELHOUSE_PUBLIC_URL": url}
    if fronted:
        env["REELHOUSE_ACCEL_REDIRECT"] = "/_objects/"
    process = subprocess.Popen([sys.executable, "-m", "reelhouse", "serve"], env=env, stdout=log, stderr=log)
    try:
        with contextlib.ExitStack() as stack:
            if fronted:
                (folder / "nginx").mkdir()
                stack.enter_context(nginx(nginx_front(settings, front_port), folder / "nginx", front_port))
            api = stack.enter_context(httpx.Client(base_url=f"{url}/v1", auth=auth, timeout=30))

            def up() -> bool:
                assert process.poll() is None, (folder / "serve.log").read_text()
                try:
                    return api.get("/on-demand").status_code == 200
                except httpx.TransportError:
                    return False

            _wait(up, "serve never answered")
            yield Running(url, data_dir, api, process, direct)
    finally:
        process.terminate()
        process.wait(15)
        log.close()


def upload(running: Running, path: Path, **settings: object) -> tuple[str, str]:
    """(media id, playback ID) of `path` uploaded through a signed URL, once Ready with what `settings` asked for."""
    created = running.api.post("/on-demand/upload", json={"corsOrigin": "*", "pushMediaSettings": {
        "accessPolicy": "public", **settings}}).json()["data"]
    httpx.put(created["url"], content=path.read_bytes(), timeout=30).raise_for_status()
    media: dict = {}

    def ready() -> bool:
        nonlocal media
        media = running.api.get(f"/on-demand/{created['uploadId']}").json()["data"]
        return media["status"] == "Ready" and all(d["status"] == "ready" for d in media.get("mp4Support") or [])

    _wait(ready, "the media never became Ready")
    return media["id"], media["playbackIds"][0]["id"]


@pytest.fixture(scope="module")
def played(running: Running, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    clip = make_clip(tmp_path_factory.mktemp("clips") / "clip.mp4", seconds=2)
    return upload(running, clip, mp4Support="capped_4k")


def segment_url(running: Running, pid: str) -> str:
    master = httpx.get(f"{running.url}/stream/{pid}.m3u8").text
    rendition = next(line for line in master.splitlines() if line and not line.startswith("#")).split("/")[1]
    return f"{running.url}/stream/{pid}/{rendition}/seg_00000.m4s"


def test_segments_and_downloads_keep_their_bytes_types_ranges_and_head(running: Running, played) -> None:
    media_id, pid = played
    segment = segment_url(running, pid)
    stored = running.data_dir / "objects" / "media" / media_id / "hls" / segment.split("/")[-2] / "seg_00000.m4s"
    for url, file, content_type in ((segment, stored, "video/iso.segment"),
                                    (f"{running.url}/stream/{pid}/capped-4k.mp4",
                                     running.data_dir / "objects" / "media" / media_id / "downloads" / "capped-4k.mp4",
                                     "video/mp4")):
        data = file.read_bytes()
        whole = httpx.get(url)
        assert whole.status_code == 200 and whole.content == data
        assert whole.headers["content-type"] == content_type
        assert whole.headers["content-length"] == str(len(data))
        assert whole.headers["access-control-allow-origin"] == "*"
        head = httpx.head(url)
        assert head.status_code == 200 and head.content == b"" and head.headers["content-length"] == str(len(data))
        assert head.headers["content-type"] == content_type

        ranged = httpx.get(url, headers={"Range": "bytes=100-299"})
        assert ranged.status_code == 206 and ranged.content == data[100:300]
        assert ranged.headers["content-range"] == f"bytes 100-299/{len(data)}"
        assert httpx.get(url, headers={"Range": "bytes=-10"}).content == data[-10:]
        refused = httpx.get(url, headers={"Range": f"bytes={len(data)}-"})
        assert refused.status_code == 416 and refused.headers["content-range"] == f"bytes */{len(data)}"
    assert httpx.get(segment).headers["x-content-type-options"] == "nosniff"


def test_rules_and_deletion_apply_on_the_next_request(running: Running, played) -> None:
    media_id, _ = played
    pid = running.api.post(f"/on-demand/{media_id}/playback-ids", json={"accessPolicy": "public"}).json()["data"]["id"]
    segment = segment_url(running, pid)
    assert httpx.get(segment).status_code == 200  # now in the cache

    rules = f"/on-demand/{media_id}/playback-ids/{pid}/user-agents"
    assert running.api.patch(rules, json={"defaultPolicy": "allow", "deny": ["curl"]}).status_code == 200
    assert httpx.get(segment, headers={"User-Agent": "curl/8.5"}).status_code == 403
    assert httpx.get(segment, headers={"User-Agent": "Firefox"}).status_code == 200

    assert running.api.delete(f"/on-demand/{media_id}/playback-ids", params={"playbackId": pid}).status_code == 200
    assert httpx.get(segment).status_code == 404
    assert httpx.head(segment).status_code == 404


def test_a_kept_answer_is_sent_only_to_requests_the_rules_let_through(running: Running, played) -> None:
    """A segment's answer is kept after the first request and sent again, before any routing: each request the rules
    read differently (another site, another client, another token, a token now expired) is still decided anew."""
    media_id, _ = played
    pid = running.api.post(f"/on-demand/{media_id}/playback-ids", json={"accessPolicy": "private"}).json()["data"]["id"]
    rules = f"/on-demand/{media_id}/playback-ids/{pid}"
    assert running.api.patch(f"{rules}/domains", json={"defaultPolicy": "deny", "allow": ["good.example"]}
                             ).status_code == 200
    assert running.api.patch(f"{rules}/user-agents", json={"defaultPolicy": "allow", "deny": ["curl"]}
                             ).status_code == 200
    key = new_key(running.api)
    stored = running.data_dir / "objects" / "media" / media_id / "hls"
    rendition = next(p.name for p in stored.iterdir() if p.name.startswith("v"))
    segment = f"{running.url}/stream/{pid}/{rendition}/seg_00000.m4s"
    good = {"Origin": "https://good.example", "User-Agent": "Firefox"}
    # Valid for about 2 s more: its exp is past, within the 5 s of clock skew allowed.
    soon_expired = mint(key, pid, expires_in=2 - access.LEEWAY_SECONDS)
    for signed in (mint(key, pid), soon_expired):
        for _ in range(3):  # the first decides; the others are sent what was kept
            answer = httpx.get(segment, params={"token": signed}, headers=good)
            assert answer.status_code == 200 and answer.content == (stored / rendition / "seg_00000.m4s").read_bytes()
        assert httpx.get(segment, params={"token": signed}, headers={**good, "Origin": "https://evil.example"}
                         ).status_code == 403
        assert httpx.get(segment, params={"token": signed}, headers={"Referer": "https://evil.example/page",
                                                                     "User-Agent": "Firefox"}).status_code == 403
        assert httpx.get(segment, params={"token": signed}, headers={**good, "User-Agent": "curl/8.5"}
                         ).status_code == 403
        assert httpx.get(segment, headers=good).status_code == 403  # no token
        # The rules read the first Origin, and an empty one sends them to the Referer.
        assert httpx.get(segment, params={"token": signed}, headers=[
            ("Origin", ""), ("Origin", "https://evil.example"), ("Referer", "https://good.example/")]).status_code == 200
        assert httpx.get(segment, params={"token": signed}, headers=[
            ("Origin", "https://evil.example"), ("Referer", "https://good.example/")]).status_code == 403
    time.sleep(2.5)
    expired = error_of(httpx.get(segment, params={"token": soon_expired}, headers=good), 403)
    assert "expired" in expired["description"]


def test_a_segment_gone_from_disk_is_a_404_even_once_kept(running: Running, tmp_path_factory) -> None:
    """Nothing in the database changed, so only the file itself says its kept answer no longer holds."""
    clip = make_clip(tmp_path_factory.mktemp("gone") / "clip.mp4", seconds=2)
    media_id, pid = upload(running, clip)
    segment = segment_url(running, pid)
    assert httpx.get(segment).status_code == 200 and httpx.get(segment).status_code == 200
    (running.data_dir / "objects" / "media" / media_id / "hls" / segment.split("/")[-2] / "seg_00000.m4s").unlink()
    error_of(httpx.get(segment), 404)


def test_a_change_made_by_another_process_stops_playback_at_once(running: Running, played) -> None:
    """Another process (here a plain Python one, as a `serve --processes 2` sibling or a worker would be) changes
    the database: the server's cached decision must not outlive it."""
    media_id, _ = played
    pid = running.api.post(f"/on-demand/{media_id}/playback-ids", json={"accessPolicy": "public"}).json()["data"]["id"]
    segment = segment_url(running, pid)
    assert httpx.get(segment).status_code == 200
    change = textwrap.dedent(f"""
        from reelhouse.db.engine import Database
        from reelhouse.db.models import PlaybackId
        db = Database("sqlite:///{(running.data_dir / 'reelhouse.db').resolve()}")
        with db.write() as session:
            session.get(PlaybackId, "{pid}").access_policy = "private"
    """)
    subprocess.run([sys.executable, "-c", change], check=True, timeout=60)
    assert httpx.get(segment).status_code == 403


def test_a_late_thumbnail_of_a_long_gop_source_shows_that_time(running: Running,
                                                                tmp_path_factory: pytest.TempPathFactory) -> None:
    """One keyframe only, at the start: seeking by the index lands on it, and the frame at 5.5 s must still be
    decoded from there, not the keyframe itself be shown."""
    folder = tmp_path_factory.mktemp("gop")
    clip = make_clip(folder / "long-gop.mp4", seconds=6, audio=False, gop=1000, extra=["-sc_threshold", "0"])
    _, pid = upload(running, clip)
    thumbnail = httpx.get(f"{running.url}/images/{pid}/thumbnail.png", params={"time": "5.5"})
    assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/png"
    (folder / "thumb.png").write_bytes(thumbnail.content)

    def frame(path: Path) -> np.ndarray:
        with av.open(str(path)) as container:
            return next(container.decode(video=0)).to_ndarray(format="rgb24").astype(np.int16)

    for at in (0.0, 5.5):  # references decoded exactly, by output seeking
        run_ffmpeg(["-y", "-i", str(clip), "-ss", str(at), "-frames:v", "1", str(folder / f"at-{at}.png")], timeout=60)
    shown = frame(folder / "thumb.png")
    late, first = (np.abs(shown - frame(folder / f"at-{at}.png")).mean() for at in (5.5, 0.0))
    assert late < first / 4, (late, first)


def test_serve_says_which_server_sends_files(running: Running, played) -> None:
    _, pid = played
    sender = "nginx" if running.url != running.direct else "granian"
    assert re.fullmatch(rf"{sender}.*", httpx.get(segment_url(running, pid)).headers.get("server", ""))


def test_every_segment_request_is_counted_under_its_route(running: Running, played) -> None:
    """Including those answered from the cached decision, before FastAPI's routing."""
    _, pid = played
    segment = segment_url(running, pid)
    counted = re.compile(r'reelhouse_http_request_duration_seconds_count\{method="GET",'
                         r'route="/stream/\{playback_id\}/\{name\}/\{file\}",status="200"\} ([0-9.e+]+)')

    def count() -> float:
        found = counted.search(httpx.get(f"{running.direct}/metrics").text)
        return float(found.group(1)) if found else 0

    before = count()
    for _ in range(3):
        assert httpx.get(segment).status_code == 200
    assert count() == before + 3


def test_behind_nginx_reelhouse_names_the_file_and_nginx_keeps_it_internal(running: Running, played) -> None:
    if running.url == running.direct:
        pytest.skip("only behind nginx")
    media_id, pid = played
    segment = segment_url(running, pid)
    handed = httpx.get(segment.replace(running.url, running.direct))
    assert handed.status_code == 200 and handed.content == b""
    location = handed.headers["x-accel-redirect"]
    assert location == f"/_objects/media/{media_id}/hls/{segment.split('/')[-2]}/seg_00000.m4s"
    assert httpx.get(f"{running.url}{location}").status_code == 404  # no client reaches the files without the checks
    several = httpx.get(segment, headers={"Range": "bytes=0-9,20-29"})  # served whole, as without nginx
    assert several.status_code == 200 and several.content == httpx.get(segment).content


def test_the_change_count_moves_with_every_kind_of_write_to_what_playback_reads(tmp_path: Path) -> None:
    """Unit-of-work changes and ORM bulk UPDATE/DELETE alike bump it once committed; reads, rolled-back writes and
    writes to other tables leave it, so the cache survives the job queue's constant writes."""
    from sqlalchemy import delete, select, update

    from reelhouse.db.engine import Database
    from reelhouse.db.models import Job, Media, PlaybackId, Workspace

    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    db.migrate()
    count = db.generation
    assert count is not None
    seen = count.current()

    def moved() -> bool:
        nonlocal seen
        before, seen = seen, count.current()
        return seen != before

    with db.write() as session:
        session.add(Workspace(id="w", name="w"))
    assert moved()
    with db.write() as session:
        session.execute(select(Media)).all()
        session.execute(update(Job).where(Job.id == "none").values(status="queued"))
    assert not moved()
    with db.write() as session:
        session.execute(update(Media).where(Media.id == "none").values(status="Failed"))
    assert moved()
    with db.write() as session:
        session.execute(delete(PlaybackId).where(PlaybackId.id == "none"))
    assert moved()
    with pytest.raises(RuntimeError), db.write() as session:
        session.execute(update(Media).where(Media.id == "none").values(status="Failed"))
        raise RuntimeError
    assert not moved()
