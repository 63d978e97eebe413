"""Loudness normalisation (`optimizeAudio`) in two passes: measure, then apply one linear gain.

The measurement is ffmpeg's `ebur128` filter (EBU R128 integrated loudness and true peak) on the audio alone,
several times cheaper than `loudnorm`'s analysis, which resamples to 192 kHz. A single gain towards the target
keeps the programme's dynamics as they are (no dynamic-mode pumping); it is lowered where it would push the true
peak above the ceiling, as EBU R128 prefers a quieter programme to a limited one.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

TARGET_LUFS = -16.0  # integrated loudness, streaming practice (AES TD1004)
TRUE_PEAK_CEILING = -1.5  # dBTP
SILENT_LUFS = -70.0  # the absolute gate: nothing below it is programme to normalise
MAX_GAIN = 30.0  # dB; quiet noise is not amplified without limit

_INTEGRATED = re.compile(r"^\s*I:\s+(-?[\d.]+|-?inf)\s+LUFS\s*$")
_TRUE_PEAK = re.compile(r"^\s*Peak:\s+(-?[\d.]+|-?inf)\s+dBFS\s*$")


class LoudnessError(Exception):
    """ffmpeg's output held no loudness summary."""


@dataclass(frozen=True)
class Loudness:
    integrated: float  # LUFS; -inf when silent
    true_peak: float  # dBTP; -inf when silent


def measure_command(source: Path, stream: str = "0:a:0") -> list[str]:
    """Decodes one audio stream and nothing else; `ebur128` logs its summary at info level when the run ends."""
    return ["-i", str(source), "-map", stream, "-vn", "-sn", "-dn",
            "-af", "ebur128=peak=true:framelog=quiet", "-f", "null", "-"]  # fmt: skip


def parse_summary(lines: list[str]) -> Loudness:
    """The integrated loudness and true peak from the last `ebur128` summary in ffmpeg's log lines."""
    integrated = peak = None
    for line in lines:
        if m := _INTEGRATED.match(line):
            integrated = float(m.group(1))
        elif m := _TRUE_PEAK.match(line):
            peak = float(m.group(1))
    if integrated is None or peak is None:
        raise LoudnessError("ffmpeg reported no loudness summary")
    return Loudness(integrated, peak)


def gain(measured: Loudness) -> float:
    """The dB to add: towards TARGET_LUFS, no further than the true-peak ceiling allows; 0 for silence."""
    if not math.isfinite(measured.integrated) or measured.integrated <= SILENT_LUFS:
        return 0.0
    wanted = TARGET_LUFS - measured.integrated
    if math.isfinite(measured.true_peak):
        wanted = min(wanted, TRUE_PEAK_CEILING - measured.true_peak)
    return round(min(wanted, MAX_GAIN), 2)


def gain_filter(db: float) -> str:
    return f"volume={db:.2f}dB"
