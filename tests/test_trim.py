"""The trim command line and span checks, without running ffmpeg."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelhouse.media.trim import Span, SpanError, trim_command


def test_the_cut_seeks_on_the_input_and_lasts_the_span() -> None:
    args = trim_command(Path("in.mov"), Path("out.mp4"), Span(1.5, 4.0), video=True, audio=True)

    assert args[:7] == ["-y", "-ss", "1.500", "-i", "in.mov", "-t", "2.500"]  # -ss before -i: exact and fast
    assert args[args.index("-c:v") + 1] == "libx264" and args[args.index("-c:a") + 1] == "aac"
    assert args[7:9] == ["-map", "0:v:0"] and "0:a" in args
    assert args[args.index("-force_key_frames") + 1] == "expr:gte(t,n_forced*2)"
    assert args[-3:] == ["-f", "mp4", "out.mp4"]


def test_audio_only_and_video_only_inputs_map_what_they_have() -> None:
    audio_only = trim_command(Path("a.m4a"), Path("o.mp4"), Span(0, 1), video=False, audio=True)
    silent = trim_command(Path("v.mp4"), Path("o.mp4"), Span(0, 1), video=True, audio=False)

    assert "-c:v" not in audio_only and "0:v:0" not in audio_only and "-c:a" in audio_only
    assert "-c:a" not in silent and "0:a" not in silent and "-c:v" in silent


def test_span_is_checked_against_the_duration() -> None:
    assert Span(1, None).within(10) == Span(1, 10)
    assert Span(0, 10.03).within(10) == Span(0, 10)  # rounding of container durations is forgiven
    with pytest.raises(SpanError, match="startTime 12 s is not before the end of the input \\(10.00 s\\)"):
        Span(12, 14).within(10)
    with pytest.raises(SpanError, match="endTime 11 s is past the end"):
        Span(2, 11).within(10)
    assert Span(0, None).is_whole(10) and Span(0, 10).is_whole(10) and not Span(0.5, 10).is_whole(10)
    with pytest.raises(AssertionError):
        trim_command(Path("a"), Path("b"), Span(1, None), video=True, audio=True)
