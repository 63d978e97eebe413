"""Running a real reelhouse server inside a Python process: for the test suite and the benchmarks."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

import uvicorn

from reelhouse.app import create_app
from reelhouse.db.engine import migrated
from reelhouse.runtime import Runtime
from reelhouse.settings import Settings
from reelhouse.storage import Storage
from reelhouse.tokens import create_token


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
