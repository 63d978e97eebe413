"""Running a real reelhouse server inside a Python process: for the test suite and the benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

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


DEPLOY = Path(__file__).resolve().parents[1] / "deploy"  # in a checkout, beside the package

NGINX_MAIN = """
worker_processes 1;
daemon off;
pid {folder}/nginx.pid;
error_log stderr error;
{user}
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
{servers}
}}
"""


@contextmanager
def nginx(servers: str, folder: Path, port: int) -> Iterator[None]:
    """A real nginx in the foreground (one worker) with `servers` in its http block, once it listens on `port`;
    its configuration and temporary files go in `folder`."""
    user = "user root;" if os.geteuid() == 0 else ""  # its worker must read files owned by us
    conf = folder / "nginx.conf"
    conf.write_text(NGINX_MAIN.format(folder=folder, user=user, servers=servers))
    process = subprocess.Popen(["nginx", "-p", str(folder), "-c", str(conf)])
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("nginx did not start") from None
                time.sleep(0.05)
        yield
    finally:
        process.terminate()
        process.wait(15)


def nginx_front(settings: Settings, port: int) -> str:
    """deploy/nginx.conf for a reelhouse at settings.host:settings.port keeping objects in its data directory, with
    nginx on 127.0.0.1:`port`: its three marked values filled in."""
    text = (DEPLOY / "nginx.conf").read_text()
    for marked, value in (("127.0.0.1:8000", f"{settings.host}:{settings.port}"), ("listen 80", f"listen 127.0.0.1:{port}"),
                          ("/var/lib/reelhouse/objects/", f"{settings.objects_dir.resolve()}/")):
        assert marked in text, marked
        text = text.replace(marked, value)
    return text


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
