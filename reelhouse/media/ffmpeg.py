"""Locating and running the ffmpeg binary."""

import shutil
import subprocess

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


def run_ffmpeg(args: list[str], *, timeout: float, ffmpeg: str | None = None) -> None:
    """Run ffmpeg with `args`, raising FFmpegError on failure or after `timeout` seconds.

    stdout is discarded and stderr is drained by communicate(), so chatty runs cannot fill a
    pipe and deadlock; on timeout subprocess.run kills the process before raising.
    """
    command = [find_ffmpeg(ffmpeg), "-hide_banner", "-nostdin", "-loglevel", "error", *args]
    try:
        completed = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise FFmpegError(f"ffmpeg timed out after {timeout:g} s") from None
    if completed.returncode != 0:
        stderr = completed.stderr.decode("utf-8", errors="replace").strip()
        tail = "\n".join(stderr.splitlines()[-STDERR_TAIL_LINES:])
        raise FFmpegError(f"ffmpeg exited with status {completed.returncode}: {tail}")
