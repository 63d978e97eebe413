"""Running on S3-compatible storage (moto's S3 server): choosing it by URL, refusing to start without it, a server
whose media never touches the data directory, playback by redirect, and moving a local library over."""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
import pytest
from click.testing import CliRunner
from prometheus_client import REGISTRY

from reelhouse.cli import main
from reelhouse.db.models import Media
from reelhouse.settings import Settings
from reelhouse.storage import LocalStorage, MemoryStorage, StorageError, open_storage, storage_at
from reelhouse.storage.keys import original_key, rendition_prefix
from reelhouse.storage.metered import Metered
from reelhouse.storage.migrate import migrate
from reelhouse.storage.s3 import S3Storage
from tests.clips import make_clip
from tests.conftest import Server, start_server, wait_for
from tests.test_progressive import decoded
from tests.test_uploads import completed_media_id, create_upload, put_chunk

# ---------------------------------------------------------------- choosing the backend


def test_storage_urls_name_their_backend(tmp_path: Path) -> None:
    local = storage_at(f"file://{tmp_path}/objects")
    nested = storage_at("s3://my-bucket/reelhouse/prod/")
    bare = storage_at("s3://my.bucket")

    assert isinstance(local, LocalStorage) and local.root == (tmp_path / "objects").resolve()
    assert isinstance(nested, S3Storage) and (nested.bucket, nested.prefix) == ("my-bucket", "reelhouse/prod")
    assert isinstance(bare, S3Storage) and (bare.bucket, bare.prefix) == ("my.bucket", "")


def test_the_default_is_the_objects_folder_of_the_data_dir(tmp_path: Path) -> None:
    storage = open_storage(Settings(data_dir=tmp_path / "data"))

    assert isinstance(storage, LocalStorage) and storage.root == (tmp_path / "data" / "objects").resolve()


@pytest.mark.parametrize(("url", "complaint"), [
    ("ftp://host/x", "neither file:///path nor s3://bucket/prefix"),
    ("/var/lib/objects", "neither file:///path nor s3://bucket/prefix"),
    ("file://objects", "not an absolute file URL"),
    ("s3://", "names no bucket"),
    ("s3://My_Bucket/x", "is not an S3 bucket name"),
    ("s3://bucket/a/../b", "invalid storage key"),
    ("s3://bucket/x?region=eu", "query or fragment"),
])
def test_a_wrong_storage_url_says_what_is_wrong(url: str, complaint: str) -> None:
    with pytest.raises(StorageError, match=complaint):
        storage_at(url)
    with pytest.raises(StorageError, match="^REELHOUSE_STORAGE_URL: .*" + complaint):
        open_storage(Settings(storage_url=url))


def serve_refusal(tmp_path: Path, **env: str) -> str:
    """What `reelhouse serve` prints when it refuses to start; fails the test if it started."""
    done = subprocess.run([sys.executable, "-m", "reelhouse", "serve", "--data-dir", str(tmp_path / "data"),
                           "--port", "9"], env={**os.environ, **env}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done
    assert done.stdout == ""
    return done.stderr


def test_serve_refuses_to_start_without_its_bucket(tmp_path: Path, s3_server: str, s3_bucket: str) -> None:
    assert serve_refusal(tmp_path, REELHOUSE_STORAGE_URL="s3://no-such-bucket/media") == (
        "Error: REELHOUSE_STORAGE_URL: bucket no-such-bucket does not exist\n")
    assert serve_refusal(tmp_path, REELHOUSE_STORAGE_URL=f"s3://{s3_bucket}", AWS_ENDPOINT_URL="http://127.0.0.1:9") == (
        f'Error: REELHOUSE_STORAGE_URL: bucket {s3_bucket} is not reachable: Could not connect to the endpoint URL: '
        f'"http://127.0.0.1:9/{s3_bucket}"\n')
    assert serve_refusal(tmp_path, REELHOUSE_STORAGE_URL="s3:/bucket") == (
        "Error: REELHOUSE_STORAGE_URL: 's3:/bucket' names no bucket; use s3://bucket or s3://bucket/prefix\n")
    assert serve_refusal(tmp_path, REELHOUSE_PLAYBACK_REDIRECT="presigned") == (
        "Error: REELHOUSE_PLAYBACK_REDIRECT: presigned needs S3 storage (REELHOUSE_STORAGE_URL=s3://…)\n")
    assert not (tmp_path / "data").exists()  # refused before anything was made


# ---------------------------------------------------------------- failures S3 answers with


def test_s3_errors_are_retried_then_reported_with_their_reason(tmp_path: Path) -> None:
    """A service answering 503 SlowDown (throttling) is asked again with backoff, then the error says why."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    from botocore.config import Config

    asked: list[str] = []

    class Throttling(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            body = b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
            self.send_response(503)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Throttling)
    Thread(target=httpd.serve_forever, daemon=True).start()
    client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{httpd.server_address[1]}", region_name="us-east-1",
                          aws_access_key_id="x", aws_secret_access_key="y",
                          config=Config(retries={"mode": "standard", "total_max_attempts": 3}))
    def failures() -> float:
        return REGISTRY.get_sample_value("reelhouse_storage_errors_total", {"operation": "stream"}) or 0.0

    counted = failures()
    try:
        with pytest.raises(StorageError) as raised:
            Metered(S3Storage("bucket", "lib", client=client)).stream("media/m/original")
    finally:
        httpd.shutdown()

    assert len(asked) == 3 and set(asked) == {"/bucket/lib/media/m/original"}
    assert str(raised.value) == ("S3 read of media/m/original in bucket bucket failed: "
                                 "SlowDown (HTTP 503): Please reduce your request rate.")
    assert failures() == counted + 1  # the service failing counts; a missing key would not


def test_large_writes_go_in_parts_and_a_failed_one_leaves_no_upload(s3_bucket: str) -> None:
    storage = S3Storage(s3_bucket, "lib")
    part = bytes(range(256)) * 4096  # 1 MiB

    assert storage.write("media/m/original", (part for _ in range(20))) == 20 * len(part)

    head = boto3.client("s3").head_object(Bucket=s3_bucket, Key="lib/media/m/original")
    assert head["ETag"].strip('"').endswith("-2")  # a multipart upload of two 16 MiB parts
    assert b"".join(storage.stream("media/m/original", 17 << 20, (17 << 20) + 5)) == part[:5]

    def failing() -> Iterator[bytes]:
        yield from (part for _ in range(20))
        raise OSError("the client went away")

    with pytest.raises(OSError):
        storage.write("media/m/original", failing())
    assert storage.size("media/m/original") == 20 * len(part)
    assert boto3.client("s3").list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []


# ---------------------------------------------------------------- a server on S3


@pytest.fixture
def s3_settings(settings: Settings, s3_bucket: str) -> Settings:
    return settings.model_copy(update={"storage_url": f"s3://{s3_bucket}/library"})


def upload_clip(api: httpx.Client, clip: Path) -> str:
    upload = create_upload(api, pushMediaSettings={"accessPolicy": "public", "sourceAccess": True})
    data = clip.read_bytes()
    return completed_media_id(put_chunk(upload["url"], data, 0, len(data)))


def first_segment(server: Server, playback_id: str) -> tuple[str, str]:
    """The URL of the first segment of the first variant, and its rendition's name."""
    master = httpx.get(f"{server.url}/stream/{playback_id}.m3u8")
    assert master.status_code == 200, master.text
    variant = next(line for line in master.text.splitlines() if line and not line.startswith("#"))
    playlist = httpx.get(f"{server.url}/stream/{variant}")
    segment = next(line for line in playlist.text.splitlines() if line.startswith("seg_"))
    name = variant.split("/")[1]
    return f"{server.url}/stream/{playback_id}/{name}/{segment}", name


def bucket_keys(bucket: str) -> list[str]:
    pages = boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def files_under(folder: Path) -> list[str]:
    """Files in the data directory other than the database's own."""
    return [str(p) for p in folder.rglob("*") if p.is_file() and not p.name.startswith("reelhouse.db")]


def test_a_server_on_s3_keeps_every_object_in_the_bucket(s3_settings: Settings, s3_bucket: str,
                                                         credentials: tuple[str, str], tmp_path: Path) -> None:
    """Direct upload to Ready, a ranged segment, a thumbnail and the source, with nothing under the data directory;
    then the same library served by redirect: to presigned URLs, and to a CDN for public media only."""
    clip = make_clip(tmp_path / "clip.mp4", seconds=2, width=160, height=120)
    server = start_server(s3_settings)
    try:
        with httpx.Client(base_url=f"{server.url}/v1", auth=credentials, timeout=30) as api:
            media_id = upload_clip(api, clip)
            media = wait_for(api, media_id, lambda m: m["status"] == "Ready", timeout=120)
            private = api.post(f"/on-demand/{media_id}/playback-ids", json={"accessPolicy": "private"})
        playback_id = media["playbackIds"][0]["id"]
        segment, name = first_segment(server, playback_id)
        stored = S3Storage(s3_bucket, "library")
        whole = stored.read(f"{rendition_prefix(media_id, name)}/{segment.rsplit('/', 1)[1]}")

        ranged = httpx.get(segment, headers={"Range": "bytes=100-199"})
        assert ranged.status_code == 206
        assert ranged.headers["content-range"] == f"bytes 100-199/{len(whole)}"
        assert ranged.content == whole[100:200]
        thumbnail = httpx.get(f"{server.url}/images/{playback_id}/thumbnail.png", params={"time": 1})
        assert thumbnail.status_code == 200 and thumbnail.content.startswith(b"\x89PNG")
        source = httpx.get(f"{server.url}/stream/{playback_id}/source")
        assert source.status_code == 200 and source.content == clip.read_bytes()
    finally:
        server.stop()

    keys = bucket_keys(s3_bucket)
    assert f"library/{original_key(media_id)}" in keys
    assert any(key.startswith(f"library/{rendition_prefix(media_id, name)}/seg_") for key in keys)
    assert any(key.startswith(f"library/media/{media_id}/thumbs/") for key in keys)
    assert all(key.startswith("library/") for key in keys)
    assert files_under(s3_settings.data_dir) == []

    presigned = start_server(s3_settings.model_copy(update={"playback_redirect": "presigned"}))
    try:
        redirect = httpx.get(segment)
        assert redirect.status_code == 302
        assert redirect.headers["cache-control"] == "private, no-store"
        assert redirect.headers["access-control-allow-origin"] == "*"
        target = redirect.headers["location"]
        assert urlsplit(target).path == f"/{s3_bucket}/library/{rendition_prefix(media_id, name)}/" + \
            segment.rsplit("/", 1)[1]
        assert "X-Amz-Signature" in parse_qs(urlsplit(target).query)
        fetched = httpx.get(target, headers={"Range": "bytes=100-199"})
        assert fetched.status_code == 206 and fetched.content == whole[100:200]
        assert fetched.headers["content-type"] == "video/iso.segment"
        download = httpx.get(httpx.get(f"{server.url}/stream/{playback_id}/source").headers["location"])
        assert download.content == clip.read_bytes()
        assert download.headers["content-disposition"].startswith("attachment")
        refused = httpx.get(segment.replace(playback_id, private.json()["data"]["id"]))
        assert refused.status_code == 403 and "location" not in refused.headers  # access is checked first
    finally:
        presigned.stop()

    cdn = start_server(s3_settings.model_copy(update={"playback_redirect": "https://cdn.example.com/videos/"}))
    try:
        redirect = httpx.get(segment)
        assert redirect.status_code == 302
        assert redirect.headers["location"] == (f"https://cdn.example.com/videos/{rendition_prefix(media_id, name)}/"
                                                + segment.rsplit("/", 1)[1])
        assert redirect.headers["cache-control"].startswith("public")
        private_segment = httpx.get(segment.replace(playback_id, private.json()["data"]["id"]))
        assert private_segment.status_code == 403 and "location" not in private_segment.headers
    finally:
        cdn.stop()


@contextlib.contextmanager
def counting_endpoint() -> Iterator[tuple[str, Counter[tuple[str, str | None]]]]:
    """Another endpoint of moto's S3 (the same buckets, in this process) that counts the body bytes each GET sent,
    per (object path, presigned URL's signature: None for a request the SDK signed), as an object store bills them.
    Small socket buffers, so what a reader that stopped early (ffmpeg seeking elsewhere) never read is not counted;
    its URL and the counts."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    moto = DomainDispatcherApplication(create_backend_app)
    fetched: Counter[tuple[str, str | None]] = Counter()

    def counted(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        signature = parse_qs(environ.get("QUERY_STRING", "")).get("X-Amz-Signature", [None])[0]
        key = (environ["PATH_INFO"], signature)
        for body in moto(environ, start_response):
            for at in range(0, len(body), 64 * 1024):  # written one piece at a time: a closed reader stops it
                piece = body[at:at + 64 * 1024]
                yield piece
                if environ["REQUEST_METHOD"] == "GET":
                    fetched[key] += len(piece)

    class SmallBuffers(MotoRequestHandler):
        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)

    server = make_server("127.0.0.1", 0, counted, threaded=True, request_handler=SmallBuffers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", fetched
    finally:
        server.shutdown()


def encoded(server: Server, media_id: str) -> bool:
    """Every rendition of the media is whole: all of its chunks are done."""
    with server.runtime.db.read() as session:
        renditions = session.get(Media, media_id).renditions
        return bool(renditions) and all(r.complete for r in renditions)


def test_a_chunk_job_on_s3_fetches_its_part_of_the_original_not_all_of_it(
        s3_settings: Settings, s3_bucket: str, credentials: tuple[str, str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A long original is encoded in chunks by jobs any worker takes; each reads its part with range requests
    rather than downloading the whole original first (once per chunk: 20 GB each for a two-hour upload)."""
    clip = make_clip(tmp_path / "long.mp4", seconds=14, width=320, height=240, vcodec="mpeg4", acodec="aac",
                     extra=["-vf", "noise=alls=100:allf=t", "-q:v", "1", "-qmin", "1"])  # noise: 66 MB
    size = clip.stat().st_size
    with counting_endpoint() as (endpoint, fetched):
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        server = start_server(s3_settings.model_copy(update={"chunk_seconds": 4.0, "max_source_bytes": 2 * size}))
        try:
            with httpx.Client(base_url=f"{server.url}/v1", auth=credentials, timeout=30) as api:
                media_id = upload_clip(api, clip)
                media = wait_for(api, media_id, lambda m: m["status"] == "Ready", timeout=120)
            deadline = time.monotonic() + 120
            while not encoded(server, media_id):
                assert time.monotonic() < deadline, "the chunks did not finish"
                time.sleep(0.2)
            times = decoded(f"{server.url}/stream/{media['playbackIds'][0]['id']}/v240/index.m3u8", "video")
            assert max(b - a for a, b in itertools.pairwise(times)) < 0.05 and abs(times[-1] - times[0] - 14) < 0.1
        finally:
            server.stop()
    original = f"/{s3_bucket}/library/{original_key(media_id)}"
    by_url = [count for (path, signature), count in fetched.items() if path == original and signature is not None]
    assert len(by_url) == 3, fetched  # the chunks after the first: 4-8 s, 8-12 s and 12-14 s
    assert all(count < size / 2 for count in by_url), (by_url, size)  # about 0.3, 0.3 and 0.15 of it


# ---------------------------------------------------------------- moving a local library to S3


def test_storage_migrate_moves_a_local_library_to_s3(settings: Settings, credentials: tuple[str, str],
                                                     server: Server, s3_bucket: str,
                                                     tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "clip.mp4", seconds=2, width=160, height=120)
    with httpx.Client(base_url=f"{server.url}/v1", auth=credentials, timeout=30) as api:
        media_id = upload_clip(api, clip)
        media = wait_for(api, media_id, lambda m: m["status"] == "Ready", timeout=120)
    playback_id = media["playbackIds"][0]["id"]
    segment, name = first_segment(server, playback_id)
    segment_bytes = httpx.get(segment).content
    server.stop()
    local = LocalStorage(settings.objects_dir)
    objects = [key for root in ("media", "uploads") for key in local.list(root)]
    target = f"s3://{s3_bucket}/moved"
    env = {"REELHOUSE_DATA_DIR": str(settings.data_dir)}

    first = CliRunner().invoke(main, ["storage", "migrate", "--to", target], env=env)
    assert first.exit_code == 0, first.output
    assert f"copied {original_key(media_id)} ({clip.stat().st_size} bytes)" in first.output
    assert f"{len(objects)} objects copied" in first.output and ", 0 already there" in first.output
    assert sorted(bucket_keys(s3_bucket)) == sorted(f"moved/{key}" for key in objects)

    moved = S3Storage(s3_bucket, "moved")
    moved.write(original_key(media_id), [b"x" * clip.stat().st_size])  # same size, other bytes: caught by digest
    again = CliRunner().invoke(main, ["storage", "migrate", "--to", target], env=env)
    assert again.exit_code == 0, again.output
    assert f"1 objects copied ({clip.stat().st_size} bytes), {len(objects) - 1} already there" in again.output
    assert moved.read(original_key(media_id)) == clip.read_bytes()
    wrong = CliRunner().invoke(main, ["storage", "migrate", "--to", "s3://no-such-bucket"], env=env)
    assert wrong.exit_code == 1 and wrong.output == "Error: --to: bucket no-such-bucket does not exist\n"

    shutil.rmtree(settings.objects_dir)
    on_s3 = start_server(settings.model_copy(update={"storage_url": target}))
    try:
        assert httpx.get(segment).content == segment_bytes
        thumbnail = httpx.get(f"{on_s3.url}/images/{playback_id}/thumbnail.jpg")
        assert thumbnail.status_code == 200 and thumbnail.content.startswith(b"\xff\xd8")
    finally:
        on_s3.stop()
    assert files_under(settings.data_dir) == []


def test_migrate_skips_what_was_deleted_meanwhile_and_refuses_a_copy_that_reads_back_wrong() -> None:
    class StillListing(MemoryStorage):
        """Lists an object deleted after the listing was taken, as a running server's source may."""

        def list(self, prefix: str) -> list[str]:
            return [*super().list(prefix), f"{prefix}/deleted"]

    class Garbling(MemoryStorage):
        def write(self, key: str, chunks: Iterable[bytes], *, durable: bool = False) -> int:
            return super().write(key, [bytes(len(b"".join(chunks)))])

    source, target = StillListing(), MemoryStorage()
    source.write("media/m/original", [b"video"])
    source.write("uploads/u/parts/0", [b"part"])

    done = migrate(source, target)

    assert (done.copied, done.copied_bytes, done.present) == (2, 9, 0)
    assert target.list("media") == ["media/m/original"] and target.read("uploads/u/parts/0") == b"part"
    with pytest.raises(StorageError, match="media/m/original reads back different from the source"):
        migrate(source, Garbling())
