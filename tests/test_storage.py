"""The storage contract, run against every backend, and the playback paths of a backend with no local files.

A backend joins the suite by adding a factory to BACKENDS (S3: a fresh bucket on moto's S3 server).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from reelhouse.media.ffmpeg import input_args, run_ffmpeg, without_queries
from reelhouse.media.hls import MediaPlaylist
from reelhouse.media.thumbnail import last_frame_command, layout, thumbnail_command
from reelhouse.playback.files import byte_range
from reelhouse.playback.images import segment_at
from reelhouse.settings import Settings
from reelhouse.storage import LocalStorage, MemoryStorage, RangeError, Storage, StorageError
from reelhouse.storage.keys import download_key, original_key, rendition_prefix, thumbnail_key
from reelhouse.storage.s3 import S3Storage
from reelhouse.wire.errors import ApiError
from tests.clips import make_clip
from tests.conftest import Server, start_server, wait_for
from tests.test_uploads import committed, completed_media_id, create_upload, put_chunk

BACKENDS: dict[str, Callable[[pytest.FixtureRequest], Storage]] = {  # each asks for the fixtures it needs
    "local": lambda request: LocalStorage(request.getfixturevalue("tmp_path") / "objects"),
    "memory": lambda request: MemoryStorage(),
    "s3": lambda request: S3Storage(request.getfixturevalue("s3_bucket"), "reelhouse/objects"),
}
DATA = bytes(range(256)) * 40  # 10240 bytes, every offset tells its position apart within 256


@pytest.fixture(params=list(BACKENDS))
def storage(request: pytest.FixtureRequest) -> Storage:
    return BACKENDS[request.param](request)


def stored(storage: Storage, key: str, data: bytes = DATA) -> str:
    assert storage.write(key, [data]) == len(data)
    return key


# ---------------------------------------------------------------- writing and reading whole objects


def test_write_then_read_round_trips(storage: Storage) -> None:
    size = storage.write("media/m1/original", [DATA[:100], b"", DATA[100:]])

    assert size == len(DATA)
    assert storage.read("media/m1/original") == DATA
    assert b"".join(storage.stream("media/m1/original")) == DATA


def test_an_empty_object_is_an_object(storage: Storage) -> None:
    assert storage.write("a/empty", []) == 0

    assert storage.exists("a/empty") and storage.size("a/empty") == 0
    assert storage.read("a/empty") == b""
    assert list(storage.stream("a/empty")) == []


def test_a_write_replaces_the_whole_object(storage: Storage) -> None:
    stored(storage, "a/b", DATA)

    storage.write("a/b", [b"short"])

    assert storage.read("a/b") == b"short"
    assert storage.size("a/b") == 5


def test_a_failed_write_leaves_the_old_object_and_no_trace(storage: Storage) -> None:
    stored(storage, "a/b", b"old")

    def broken() -> Iterator[bytes]:
        yield b"new bytes that never"
        raise OSError("the client went away")

    with pytest.raises(OSError):
        storage.write("a/b", broken())
    with pytest.raises(OSError):
        storage.write("a/c", broken())

    assert storage.read("a/b") == b"old"
    assert storage.list("a") == ["a/b"]


def test_durable_writes_are_accepted(storage: Storage) -> None:
    assert storage.write("uploads/u/parts/1", [DATA], durable=True) == len(DATA)

    assert storage.read("uploads/u/parts/1") == DATA


def test_put_file_publishes_and_consumes_the_file(storage: Storage, tmp_path: Path) -> None:
    source = tmp_path / "rendered.png"
    source.write_bytes(DATA)
    stored(storage, "media/m1/thumbs/x.png", b"older")

    storage.put_file("media/m1/thumbs/x.png", source)

    assert not source.exists()
    assert storage.read("media/m1/thumbs/x.png") == DATA


def test_move_puts_the_object_under_its_new_key_and_removes_the_old(storage: Storage) -> None:
    stored(storage, "uploads/u1/parts/0", DATA)
    stored(storage, "media/m1/original", b"older")

    storage.move("uploads/u1/parts/0", "media/m1/original")

    assert storage.read("media/m1/original") == DATA and not storage.exists("uploads/u1/parts/0")
    with pytest.raises(StorageError):
        storage.move("uploads/u1/parts/0", "media/m2/original")
    assert not storage.exists("media/m2/original")


def test_size_and_exists(storage: Storage) -> None:
    stored(storage, "media/m1/original")

    assert storage.size("media/m1/original") == len(DATA)
    assert storage.exists("media/m1/original")
    assert storage.size("media/m1/other") is None
    assert not storage.exists("media/m1/other")


def test_a_prefix_is_not_an_object(storage: Storage) -> None:
    """As in S3: `a/b` existing says nothing about an object `a`."""
    stored(storage, "a/b")

    assert not storage.exists("a")
    assert storage.size("a") is None
    with pytest.raises(StorageError):
        storage.read("a")
    with pytest.raises(StorageError):
        storage.stream("a")
    storage.delete("a")
    assert storage.read("a/b") == DATA


def test_missing_objects_raise_storage_error(storage: Storage) -> None:
    for read in (storage.read, storage.stream):
        with pytest.raises(StorageError) as raised:
            read("media/none/original")  # the call itself, not the first chunk
        assert not isinstance(raised.value, RangeError)
        assert "media/none/original" in str(raised.value)


# ---------------------------------------------------------------- listing and deleting


def test_list_is_sorted_and_only_under_the_prefix(storage: Storage) -> None:
    for key in ("m/a/2", "m/a/10", "m/a/sub/x", "m/ab/y", "m/a.b", "m/b/a"):
        stored(storage, key, key.encode())

    assert storage.list("m/a") == ["m/a/10", "m/a/2", "m/a/sub/x"]
    assert storage.list("m") == ["m/a.b", "m/a/10", "m/a/2", "m/a/sub/x", "m/ab/y", "m/b/a"]
    assert storage.list("m/a/sub/x") == []  # an object is not a prefix
    assert storage.list("nothing") == []


def test_delete_removes_one_object_and_missing_is_fine(storage: Storage) -> None:
    stored(storage, "m/a/1")
    stored(storage, "m/a/2")

    storage.delete("m/a/1")
    storage.delete("m/a/1")
    storage.delete("m/never/was")

    assert storage.list("m") == ["m/a/2"]
    assert not storage.exists("m/a/1")


def test_delete_prefix_removes_everything_under_it_only(storage: Storage) -> None:
    for key in ("m/a/1", "m/a/sub/2", "m/ab/3", "m/a.b"):
        stored(storage, key)

    storage.delete_prefix("m/a")
    storage.delete_prefix("m/a")
    storage.delete_prefix("never/was")

    assert storage.list("m") == ["m/a.b", "m/ab/3"]


BAD_KEYS = ["", "/a", "a/", "a//b", "..", "../a", "a/../b", "a/./b", ".", "a b", "a\\b", "a/\u00e9", "a\nb"]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_invalid_keys_are_refused_by_every_operation(storage: Storage, tmp_path: Path, key: str) -> None:
    source = tmp_path / "file"
    source.write_bytes(b"x")
    operations = [
        lambda: storage.write(key, [b"x"]),
        lambda: storage.put_file(key, source),
        lambda: storage.read(key),
        lambda: storage.stream(key),
        lambda: storage.size(key),
        lambda: storage.list(key),
        lambda: storage.delete(key),
        lambda: storage.delete_prefix(key),
        lambda: storage.move(key, "a/b"),
        lambda: storage.move("uploads/u1/part", key),
    ]
    stored(storage, "uploads/u1/part", b"x")
    for operation in operations:
        with pytest.raises(StorageError, match="invalid storage key"):
            operation()
    assert source.exists() and storage.read("uploads/u1/part") == b"x"


# ---------------------------------------------------------------- ranged streaming reads


@pytest.mark.parametrize(
    ("start", "end"),
    [
        pytest.param(0, 100, id="start"),
        pytest.param(5000, 6001, id="middle"),
        pytest.param(10000, None, id="to-the-end"),
        pytest.param(10239, 10240, id="last-byte"),
        pytest.param(0, None, id="whole"),
        pytest.param(10240, None, id="empty-at-the-end"),
        pytest.param(300, 300, id="empty-inside"),
    ],
)
def test_stream_reads_the_range(storage: Storage, start: int, end: int | None) -> None:
    stored(storage, "k/v")

    assert b"".join(storage.stream("k/v", start, end)) == DATA[start:end]


def test_stream_comes_in_chunks_of_the_size_asked_the_last_shorter(storage: Storage) -> None:
    stored(storage, "k/v")

    chunks = list(storage.stream("k/v", 100, 9000, chunk_size=1000))

    assert [len(c) for c in chunks] == [1000] * 8 + [900]
    assert b"".join(chunks) == DATA[100:9000]
    assert [len(c) for c in storage.stream("k/v", chunk_size=4096)] == [4096, 4096, 2048]


def test_stream_defaults_to_chunks_of_a_mebibyte(storage: Storage) -> None:
    data = DATA * 205  # just over 2 MiB
    stored(storage, "k/big", data)

    chunks = list(storage.stream("k/big"))

    assert [len(c) for c in chunks] == [1 << 20, 1 << 20, len(data) - (2 << 20)]
    assert b"".join(chunks) == data


@pytest.mark.parametrize(
    ("start", "end"),
    [(-1, None), (0, 10241), (10241, None), (10241, 10242), (200, 100), (0, -1)],
)
def test_a_range_outside_the_object_is_a_range_error(storage: Storage, start: int, end: int | None) -> None:
    stored(storage, "k/v")

    with pytest.raises(RangeError, match=r"outside k/v \(10240 bytes\)"):
        storage.stream("k/v", start, end)


def test_a_chunk_size_below_one_is_refused(storage: Storage) -> None:
    stored(storage, "k/v")

    with pytest.raises(ValueError):
        storage.stream("k/v", chunk_size=0)


def test_a_stream_keeps_reading_what_it_started_on(storage: Storage) -> None:
    """Objects are replaced, never edited: a reader half way through a segment keeps its bytes."""
    stored(storage, "k/v")
    chunks = storage.stream("k/v", chunk_size=4096)
    first = next(chunks)

    storage.write("k/v", [b"x" * 50])
    storage.delete("k/v")

    assert first + b"".join(chunks) == DATA


# ---------------------------------------------------------------- local files for tools


def test_as_local_file_on_each_backend(storage: Storage, tmp_path: Path) -> None:
    key = stored(storage, "media/m1/original")
    scratch = tmp_path / "scratch"
    in_place = storage.local_path(key)

    with storage.as_local_file(key, scratch) as path:
        assert path.read_bytes() == DATA
        if in_place is None:
            assert scratch in path.parents
        else:
            assert path == in_place

    assert storage.read(key) == DATA
    assert not scratch.exists() or list(scratch.iterdir()) == []  # a scratch copy is removed afterwards


def test_as_local_file_of_a_missing_object_fails_and_leaves_no_scratch(storage: Storage, tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"

    with pytest.raises(StorageError), storage.as_local_file("media/none/original", scratch):
        pass

    assert not scratch.exists() or list(scratch.iterdir()) == []


def test_as_input_is_where_ffmpeg_reads_the_object_seeking_where_it_needs(storage: Storage, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "clip.mp4", seconds=2)
    key = stored(storage, "media/m1/original", clip.read_bytes())
    frame = tmp_path / "frame.png"

    with storage.as_input(key, tmp_path / "scratch", 60) as where:
        run_ffmpeg(["-y", "-ss", "1.5", *input_args(where), "-frames:v", "1", str(frame)], timeout=30)
        assert isinstance(where, str) == isinstance(storage, S3Storage)  # S3's is a URL: nothing is downloaded

    assert frame.stat().st_size > 0
    with pytest.raises(StorageError), storage.as_input("media/none/original", tmp_path / "scratch", 60):
        pass


def test_a_url_input_is_read_in_ranges_and_its_query_is_never_shown(tmp_path: Path) -> None:
    url = "https://s3.example.com/bucket/media/m/original?X-Amz-Credential=AKIA&X-Amz-Signature=feed"
    args = input_args(url)
    assert args[-2:] == ["-i", url] and args[args.index("-request_size") + 1] == str(1024 * 1024)
    assert "-reconnect" in args and input_args(tmp_path / "original") == ["-i", str(tmp_path / "original")]
    said = f"Error opening input file {url}.\n[https @ 0x1] '{url}': Server returned 403 Forbidden"
    assert without_queries(said) == ("Error opening input file https://s3.example.com/bucket/media/m/original\n"
                                     "[https @ 0x1] 'https://s3.example.com/bucket/media/m/original': Server "
                                     "returned 403 Forbidden")


def test_memory_storage_has_no_local_paths_and_is_safe_across_threads() -> None:
    storage = MemoryStorage()

    def writer(n: int) -> None:
        for i in range(500):
            storage.write(f"t/{n}/{i}", [bytes([n]) * 10])
            storage.list("t")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert storage.local_path("t/0/0") is None
    assert len(storage.list("t")) == 2000
    assert storage.read("t/3/499") == b"\x03" * 10


# ---------------------------------------------------------------- Range headers (pure)


@pytest.mark.parametrize(
    ("header", "span"),
    [
        (None, None),
        ("bytes=0-99", (0, 100)),
        ("bytes=100-", (100, 1000)),
        ("bytes=-100", (900, 1000)),
        ("bytes=-5000", (0, 1000)),  # a suffix longer than the object is all of it
        ("bytes=990-5000", (990, 1000)),  # a last byte past the end stops at the end
        ("BYTES=1-1", (1, 2)),
        ("bytes=0-1,5-6", None),  # several ranges: the whole object
        ("bytes=5-1", None),  # invalid: ignored
        ("items=0-1", None),
        ("bytes=-", None),
        ("bytes=a-b", None),
        ("bytes=0-" + "9" * 5000, None),  # no int() of thousands of digits
    ],
)
def test_byte_range(header: str | None, span: tuple[int, int] | None) -> None:
    assert byte_range(header, 1000) == span


@pytest.mark.parametrize(("header", "size"), [("bytes=1000-", 1000), ("bytes=1000-2000", 1000), ("bytes=-0", 1000),
                                              ("bytes=0-", 0), ("bytes=-1", 0)])
def test_byte_range_past_the_end_is_416(header: str, size: int) -> None:
    with pytest.raises(ApiError) as raised:
        byte_range(header, size)

    assert raised.value.status == 416
    assert raised.value.headers == {"Content-Range": f"bytes */{size}"}


@pytest.mark.parametrize(
    ("time", "segment"),
    [(0.0, ("seg_00000.m4s", 0.0)), (3.999, ("seg_00000.m4s", 0.0)), (4.0, ("seg_00001.m4s", 4.0)),
     (9.5, ("seg_00002.m4s", 8.0)), (10.0, ("seg_00002.m4s", 8.0)), (10.2, ("seg_00002.m4s", 8.0))],
)
def test_the_thumbnail_segment_is_the_one_holding_the_time(time: float, segment: tuple[str, float]) -> None:
    playlist = MediaPlaylist("init.mp4", (("seg_00000.m4s", 4.0), ("seg_00001.m4s", 4.0), ("seg_00002.m4s", 2.0)))

    assert segment_at(playlist, time) == segment


# ---------------------------------------------------------------- playback from a backend with no local files


@pytest.fixture
def memory_server(settings: Settings, credentials: tuple[str, str]) -> Iterator[Server]:
    running = start_server(settings, storage=MemoryStorage())
    yield running
    running.stop()


@pytest.fixture
def memory_api(memory_server: Server, credentials: tuple[str, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{memory_server.url}/v1", auth=credentials, timeout=30) as client:
        yield client


def assert_ranges(url: str, whole: bytes) -> None:
    """200 with the whole object, 206 for each kind of single range (HEAD too), 416 past the end."""
    size = len(whole)
    full = httpx.get(url)
    assert full.status_code == 200, full.text
    assert full.content == whole
    assert full.headers["accept-ranges"] == "bytes"
    assert full.headers["content-length"] == str(size)
    for header, (start, end) in {"bytes=10-19": (10, 20), f"bytes={size - 7}-": (size - 7, size),
                                 "bytes=-5": (size - 5, size)}.items():
        ranged = httpx.get(url, headers={"Range": header})
        assert ranged.status_code == 206, (header, ranged.text)
        assert ranged.content == whole[start:end]
        assert ranged.headers["content-range"] == f"bytes {start}-{end - 1}/{size}"
        assert ranged.headers["content-length"] == str(end - start)
        assert ranged.headers["access-control-allow-origin"] == "*"
    head = httpx.head(url, headers={"Range": "bytes=0-3"})
    assert head.status_code == 206 and head.content == b""
    assert head.headers["content-length"] == "4" and head.headers["content-range"] == f"bytes 0-3/{size}"
    several = httpx.get(url, headers={"Range": "bytes=0-1,4-5"})
    assert several.status_code == 200 and several.content == whole
    unvalidated = httpx.get(url, headers={"Range": "bytes=0-1", "If-Range": '"an-etag"'})  # no validator to match
    assert unvalidated.status_code == 200 and unvalidated.content == whole
    past = httpx.get(url, headers={"Range": f"bytes={size}-"})
    assert past.status_code == 416
    assert past.headers["content-range"] == f"bytes */{size}"
    assert past.headers["access-control-allow-origin"] == "*"
    assert past.json()["success"] is False and past.json()["error"]["code"] == 416


def test_playback_on_a_backend_without_local_files(memory_server: Server, memory_api: httpx.Client, settings: Settings,
                                                    tmp_path: Path) -> None:
    """Segments, a thumbnail and the MP4 download over HTTP ranges; the thumbnail comes from the HLS rendition
    (the original is gone by then) and is the very frame ffmpeg takes from the original."""
    clip = make_clip(tmp_path / "ten.mp4", seconds=10, width=160, height=120, gop=25)  # three 4 s segments
    data = clip.read_bytes()
    storage = memory_server.runtime.storage
    upload = create_upload(memory_api, pushMediaSettings={"accessPolicy": "public", "mp4Support": "capped_4k"})
    half = len(data) // 2
    assert committed(put_chunk(upload["url"], data[:half], 0, len(data))) == half
    media_id = completed_media_id(put_chunk(upload["url"], data[half:], half, len(data)))

    media = wait_for(memory_api, media_id, lambda m: m["status"] == "Ready"
                     and all(e["status"] == "ready" for e in m.get("mp4Support", [])), timeout=120)
    assert media["mp4Support"][0]["status"] == "ready"
    assert storage.read(original_key(media_id)) == data
    playback_id = media["playbackIds"][0]["id"]
    stream = f"{memory_server.url}/stream/{playback_id}"

    master = httpx.get(f"{stream}.m3u8")
    assert master.status_code == 200, master.text
    variant_uri = next(line for line in master.text.splitlines() if line and not line.startswith("#"))
    name = variant_uri.split("/")[1]
    playlist = httpx.get(f"{memory_server.url}/stream/{variant_uri}")
    assert playlist.status_code == 200, playlist.text
    segments = [line for line in playlist.text.splitlines() if line.startswith("seg_")]
    assert len(segments) == 3
    prefix = rendition_prefix(media_id, name)
    assert_ranges(f"{stream}/{name}/{segments[1]}", storage.read(f"{prefix}/{segments[1]}"))
    assert_ranges(f"{stream}/capped-4k.mp4", storage.read(download_key(media_id, "capped-4k.mp4")))

    storage.delete(original_key(media_id))
    picture = layout((160, 120), None, None)
    cases = {  # the frame ffmpeg takes from the original for each time: mid-segment, a segment's first, the end
        5.52: thumbnail_command(clip, tmp_path / "5.52.png", 5.52, picture, "png"),
        4.0: thumbnail_command(clip, tmp_path / "4.0.png", 4.0, picture, "png"),
        10.0: last_frame_command(clip, tmp_path / "10.0.png", picture, "png"),
    }
    for time, command in cases.items():
        thumbnail = httpx.get(f"{memory_server.url}/images/{playback_id}/thumbnail.png", params={"time": time})

        assert thumbnail.status_code == 200, (time, thumbnail.text)
        run_ffmpeg(command, timeout=60)
        assert thumbnail.content == (tmp_path / f"{time}.png").read_bytes(), time
    assert storage.exists(thumbnail_key(media_id, "5.520s-preserve-160x120.png"))
    assert_ranges(f"{memory_server.url}/images/{playback_id}/thumbnail.png?time=5.52",
                  (tmp_path / "5.52.png").read_bytes())
    assert not any(settings.scratch_dir.rglob("*.mp4"))  # the joined segments went with their scratch folders
