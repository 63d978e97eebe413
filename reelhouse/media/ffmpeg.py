"""Locating and running the ffmpeg binary."""

import re
import shutil
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

import imageio_ffmpeg

STDERR_TAIL_LINES = 20
# What ffmpeg and PyAV read: a local file, or a URL they fetch with range requests (`Storage.as_input`).
Location = Path | str
# How ffmpeg and PyAV read a URL (an object store's original): ranges of at most 1 MiB on a kept-alive connection,
# fetched again from where a dropped connection left them, so a seek costs what it reads and a network blip does not
# fail the encode.
URL_OPTIONS = {"reconnect": "1", "reconnect_on_network_error": "1", "reconnect_delay_max": "30",
               "multiple_requests": "1", "initial_request_size": str(256 * 1024), "request_size": str(1024 * 1024)}
_QUERY = re.compile(r"(\w+://[^\s?]*)\?[^\s'\"]*")  # a URL's query string: a presigned one's signature


class FFmpegError(Exception):
    """ffmpeg could not be found, failed, or ran too long."""


class FFmpegCancelled(FFmpegError):
    """`cancelled` said the run's result is no longer wanted, and ffmpeg was killed."""


def find_ffmpeg(configured: str | None = None) -> str:
    """Return the configured ffmpeg if usable, else the binary bundled with imageio-ffmpeg.

    A configured path that is missing or not executable is an error rather than a silent
    fallback, so a typo in the settings does not go unnoticed.
    """
    if not configured:
        return imageio_ffmpeg.get_ffmpeg_exe()
    found = shutil.which(configured)
    if found is None:
        raise FFmpegError(f"configured ffmpeg {configured!r} does not exist or is not executable")
    return found


def input_args(source: Location) -> list[str]:
    """`-i source`: a local file, or a URL read as URL_OPTIONS say, without scanning its end for
    an MPEG-TS's last timestamp (a ranged request per step back: an encode has its length from the probe)."""
    if not isinstance(source, str):
        return ["-i", str(source)]
    options = {**URL_OPTIONS, "skip_estimate_duration_from_pts": "1"}
    return [*(arg for name, value in options.items() for arg in (f"-{name}", value)), "-i", source]


def without_queries(text: str) -> str:
    """`text` with every URL's query string left out: ffmpeg names its input in errors that users and logs read,
    and a presigned URL's query is a credential."""
    return _QUERY.sub(r"\1", text)


def run_ffmpeg(
    args: list[str],
    *,
    timeout: float,
    ffmpeg: str | None = None,
    on_progress: Callable[[float], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    check_every: float = 2.0,
    loglevel: str = "error",
) -> list[str]:
    """Run ffmpeg with `args`, raising FFmpegError on failure or after `timeout` seconds; returns the last
    STDERR_TAIL_LINES lines it logged (at `loglevel`: `info` for what a filter reports when it ends).

    `on_progress` receives the output position in seconds as ffmpeg reports it (`-progress`).
    stderr is drained by a thread into a bounded tail, so chatty runs can never fill a pipe and
    deadlock; a watcher thread kills the process when the timeout passes, or when `cancelled`
    (asked every `check_every` seconds) answers True, raising FFmpegCancelled.
    """
    command = [find_ffmpeg(ffmpeg), "-hide_banner", "-nostdin", "-loglevel", loglevel]
    if on_progress is not None:
        command += ["-progress", "pipe:1", "-nostats"]
    command += args
    tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
    timed_out, stopped, finished = threading.Event(), threading.Event(), threading.Event()
    deadline = time.monotonic() + timeout
    with subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE if on_progress else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    ) as process:

        def watch() -> None:
            while not finished.wait(min(check_every, max(0.0, deadline - time.monotonic()))):
                if time.monotonic() >= deadline:
                    timed_out.set()
                elif cancelled is not None and cancelled():
                    stopped.set()
                else:
                    continue
                process.kill()
                return

        def drain() -> None:
            assert process.stderr is not None
            for line in process.stderr:
                tail.append(without_queries(line.decode("utf-8", errors="replace").rstrip()))

        watcher = threading.Thread(target=watch, daemon=True)
        reader = threading.Thread(target=drain, daemon=True)
        watcher.start()
        reader.start()
        try:
            if on_progress is not None and process.stdout is not None:
                for raw in process.stdout:
                    if raw.startswith(b"out_time_us=") and raw[12:].strip().isdigit():
                        on_progress(int(raw[12:]) / 1_000_000)
            process.wait()
        finally:
            finished.set()
            watcher.join()
            reader.join()
    if stopped.is_set():
        raise FFmpegCancelled("ffmpeg was stopped: its result is no longer wanted")
    if timed_out.is_set():
        raise FFmpegError(f"ffmpeg timed out after {timeout:g} s")
    if process.returncode != 0:
        raise FFmpegError(f"ffmpeg exited with status {process.returncode}: " + "\n".join(tail))
    return list(tail)
