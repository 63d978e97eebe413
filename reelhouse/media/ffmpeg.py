"""Locating and running the ffmpeg binary."""

import shutil
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable

import imageio_ffmpeg

STDERR_TAIL_LINES = 20


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
                tail.append(line.decode("utf-8", errors="replace").rstrip())

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
