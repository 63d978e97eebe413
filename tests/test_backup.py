"""`reelhouse backup` while the server runs and uploads are in flight, then `reelhouse restore` into a fresh data
directory (and, on PostgreSQL, a fresh database): the restored server plays every media that was Ready."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from reelhouse.cli import main
from reelhouse.settings import Settings
from tests.api_helpers import create_media
from tests.conftest import ON_POSTGRES, Server, fresh_postgres, server_settings, start_server, wait_for
from tests.test_uploads import CHUNK, begin_put, put_chunk


def cli(settings: Settings, *args: str) -> str:
    env = {"REELHOUSE_DATABASE_URL": settings.database_url} if settings.database_url else {}
    result = CliRunner().invoke(main, [*args, "--data-dir", str(settings.data_dir)], env=env)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def fresh_database() -> Iterator[str | None]:
    with fresh_postgres() if ON_POSTGRES else contextlib.nullcontext() as url:
        yield url


def test_a_backup_taken_during_uploads_restores_into_a_server_that_plays_every_ready_media(
    server: Server, api: httpx.Client, settings: Settings, file_server: str, clips: Path, tmp_path: Path,
    fresh_database: str | None,
) -> None:
    ready = [wait_for(api, create_media(api, f"{file_server}/{name}")["id"], lambda m: m["status"] == "Ready")
             for name in ("clip.mp4", "tone.m4a")]
    clip = (clips / "clip.mp4").read_bytes()
    upload = api.post("/on-demand/upload", json={"corsOrigin": "*", "pushMediaSettings": {"accessPolicy": "public"}})
    url = upload.json()["data"]["url"]
    assert put_chunk(url, clip[:CHUNK], 0, len(clip)).status_code == 308
    in_flight = begin_put(url, {"Content-Range": f"bytes {CHUNK}-{2 * CHUNK - 1}/{len(clip)}",
                                "Content-Length": str(CHUNK)})
    in_flight.send(clip[CHUNK:CHUNK + 1000])  # a chunk half sent while the backup runs

    output = cli(settings, "backup", str(tmp_path / "backup"))

    in_flight.close()
    assert "objects" in output
    restored = server_settings(tmp_path / "restored", fresh_database)
    assert "restored" in cli(restored, "restore", str(tmp_path / "backup"))
    again = start_server(restored)
    try:
        with httpx.Client(base_url=f"{again.url}/v1", auth=api.auth, timeout=30) as restored_api:
            for media in ready:
                found = restored_api.get(f"/on-demand/{media['id']}").json()["data"]
                assert found["status"] == "Ready"
                playlist = httpx.get(f"{again.url}/stream/{media['playbackIds'][0]['id']}.m3u8")
                assert playlist.status_code == 200 and playlist.text.startswith("#EXTM3U")
                rendition = playlist.text.splitlines()[-1]
                segments = httpx.get(f"{again.url}/stream/{rendition}" if not rendition.startswith("http")
                                     else rendition)
                assert segments.status_code == 200 and segments.text.startswith("#EXTM3U"), segments.text
    finally:
        again.stop()


def test_restore_refuses_a_data_directory_that_has_a_database(settings: Settings, tmp_path: Path,
                                                               server: Server) -> None:
    cli(settings, "backup", str(tmp_path / "backup"))

    result = CliRunner().invoke(main, ["restore", str(tmp_path / "backup"), "--data-dir", str(settings.data_dir)],
                                env={"REELHOUSE_DATABASE_URL": settings.database_url} if settings.database_url else {})

    assert result.exit_code != 0
    assert "fresh" in result.output or "exists" in result.output
