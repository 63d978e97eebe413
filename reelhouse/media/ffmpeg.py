"""Locating and running the ffmpeg binary."""

import shutil
import subprocess
import threading
from collections import deque
from collections.abc import Callable

import imageio_ffmpeg

STDERR_TAIL_LINES = 20


class FFmpegError(Exception):
    """ffmpeg could not be found, failed, or ran too long."""


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
) -> None:
    """Run ffmpeg with `args`, raising FFmpegError on failure or after `timeout` seconds.

    `on_progress` receives the output position in seconds as ffmpeg reports it (`-progress`).
    stderr is drained by a thread into a bounded tail, so chatty runs can never fill a pipe and
    deadlock; a timer kills the process when the timeout passes.
    """
    command = [find_ffmpeg(ffmpeg), "-hide_banner", "-nostdin", "-loglevel", "error"]
    if on_progress is not None:
        command += ["-progress", "pipe:1", "-nostats"]
    command += args
    tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
    timed_out = threading.Event()
    with subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE if on_progress else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    ) as process:

        def kill() -> None:
            timed_out.set()
            process.kill()

        def drain() -> None:
            assert process.stderr is not None
            for line in process.stderr:
                tail.append(line.decode("utf-8", errors="replace").rstrip())

        timer = threading.Timer(timeout, kill)
        reader = threading.Thread(target=drain, daemon=True)
        timer.start()
        reader.start()
        try:
            if on_progress is not None and process.stdout is not None:
                for raw in process.stdout:
                    if raw.startswith(b"out_time_us=") and raw[12:].strip().isdigit():
                        on_progress(int(raw[12:]) / 1_000_000)
            process.wait()
        finally:
            timer.cancel()
            reader.join()
    if timed_out.is_set():
        raise FFmpegError(f"ffmpeg timed out after {timeout:g} s")
    if process.returncode != 0:
        raise FFmpegError(f"ffmpeg exited with status {process.returncode}: " + "\n".join(tail))
