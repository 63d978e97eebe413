"""Running a real reelhouse server inside a Python process: for the test suite and the benchmarks."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

import uvicorn

from reelhouse.app import create_app
from reelhouse.db.engine import Database, migrated
from reelhouse.db.enums import DownloadStatus, MediaStatus
from reelhouse.db.models import Download, Media, PlaybackId, Track, new_id, utcnow
from reelhouse.runtime import Runtime
from reelhouse.settings import Settings
from reelhouse.storage import Storage
from reelhouse.tokens import create_token, workspace_named


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    settings: Settings
    url: str
    _server: uvicorn.Server
    _thread: threading.Thread

    @property
    def runtime(self) -> Runtime:
        return self._server.config.app.state.runtime

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(15)


def start_server(settings: Settings, *, workers: bool = True, storage: Storage | None = None) -> Server:
    """Serves on settings.host:settings.port from a background thread; returns once it accepts connections."""
    app = create_app(settings, workers=workers, storage=storage)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("reelhouse server did not start")
        time.sleep(0.02)
    return Server(settings, f"http://{settings.host}:{settings.port}", server, thread)


def make_token(settings: Settings, workspace: str = "Default") -> tuple[str, str]:
    """(token id, secret) for a new access token in `workspace`, creating the database if needed."""
    with migrated(settings) as db, db.write() as session:
        token, secret = create_token(session, workspace=workspace)
        return token.id, secret


def add_ready_media(db: Database, count: int, workspace: str = "Default") -> list[str]:
    """`count` Ready media shaped like a finished 720p upload (a public playback ID, a video and an audio track, an
    MP4 download), written straight to the database a thousand at a time, one second apart, oldest first: many media
    in seconds, where ingesting them would take hours. Returns their ids in that order."""
    with db.write() as session:
        workspace_id = workspace_named(session, workspace).id
    start, ids = utcnow() - timedelta(seconds=count), []
    for first in range(0, count, 1000):
        with db.write() as session:
            for n in range(first, min(count, first + 1000)):
                at = start + timedelta(seconds=n)
                media = Media(id=new_id(), workspace_id=workspace_id, status=MediaStatus.READY, title=f"clip {n}",
                              meta={"n": str(n)}, mp4_support="capped_4k", inputs=[{"type": "video"}],
                              container_format="mov,mp4,m4a,3gp,3g2,mj2", duration=60.0, width=1280, height=720,
                              frame_rate="30", aspect_ratio="16:9", created_at=at, updated_at=at)
                media.playback_ids.append(PlaybackId(access_policy="public", domains={"defaultPolicy": "allow"},
                                                     user_agents={"defaultPolicy": "allow"}, created_at=at))
                media.tracks.append(Track(type="video", stream_index=0, width=1280, height=720, frame_rate="30",
                                          codec="h264"))
                media.tracks.append(Track(type="audio", stream_index=1, position=1, language_code="und", codec="aac"))
                media.downloads.append(Download(type="capped_4k", status=DownloadStatus.READY, width=1280, height=720))
                session.add(media)
                ids.append(media.id)
    return ids
