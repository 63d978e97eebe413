"""The compose command line and the main video's timeline, read without running ffmpeg."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelhouse.media.compose import (
    Composition,
    Imposed,
    Piece,
    Shape,
    TimelineError,
    Watermark,
    check_disjoint,
    compose_command,
    main_pieces,
    parse_range,
)

SHAPE = Shape(160, 120, 25, 2)


def graph(comp: Composition) -> str:
    args = compose_command(comp, Path("out.mp4"))
    return args[args.index("-filter_complex") + 1]


def test_ranges_parse_and_overlaps_are_refused() -> None:
    assert parse_range("4-6") == (4.0, 6.0) and parse_range("0.5-1.25") == (0.5, 1.25)
    for bad in ("4", "6-4", "a-b", "-1-2"):
        with pytest.raises(ValueError):
            parse_range(bad)
    check_disjoint([(4, 6), (0, 4), (6, 7)])  # touching is fine
    with pytest.raises(ValueError, match="overlap"):
        check_disjoint([(4, 6), (5, 7)])


def test_timeline_cuts_ranges_and_places_inserts_on_the_main_clock() -> None:
    intro = [Piece(1, 0, 1)]
    pieces = main_pieces(0, 10, audio=True, expunged=[(2, 4), (8, 10)], inserts=[(3, intro), (6, intro)])
    assert [(p.input, p.start, p.end) for p in pieces] == [(0, 0, 2), (1, 0, 1), (0, 4, 6), (1, 0, 1), (0, 6, 8)]
    assert [(p.input, p.start, p.end) for p in main_pieces(0, 2, audio=False, inserts=[(2, intro)])] == [
        (0, 0, 2), (1, 0, 1)]
    with pytest.raises(TimelineError, match="past the end"):
        main_pieces(0, 2, audio=True, expunged=[(1, 5)])
    with pytest.raises(TimelineError, match="whole video"):
        main_pieces(0, 2, audio=True, expunged=[(0, 2)])
    with pytest.raises(TimelineError, match="insertAt 3"):
        main_pieces(0, 2, audio=True, inserts=[(3, intro)])


def test_every_piece_is_normalised_to_the_main_video_and_silence_fills_a_silent_one() -> None:
    comp = Composition([Path("main.mp4"), Path("intro.mp4")], [Piece(1, 0, 1, audio=False), Piece(0, 0, 2)], SHAPE)
    text = graph(comp)
    assert text.count("scale=160:120:force_original_aspect_ratio=decrease,pad=160:120") == 2
    assert text.count("fps=25") == 2 and "anullsrc=r=48000:cl=stereo" in text
    assert text.index("[1:v]") < text.index("[0:v]")  # the intro's frames first
    assert "concat=n=2:v=1:a=1" in text
    args = compose_command(comp, Path("out.mp4"))
    assert args[args.index("-t") + 1] == "3.000" and args[args.index("[audio]") - 1:][:2] == ["-map", "[audio]"]


def test_watermark_position_size_and_opacity() -> None:
    mark = Watermark(1, "right", "top", 0.05, 0.1, width=0.25, opacity=0.5)
    text = graph(Composition([Path("m"), Path("w.png")], [Piece(0, 0, 2)], SHAPE, watermark=mark))
    assert "[1:v]scale=40:-1,format=rgba,colorchannelmixer=aa=0.5[mark]" in text
    assert "overlay=x=main_w-overlay_w-main_w*0.05:y=main_h*0.1" in text
    centred = graph(Composition([Path("m"), Path("w.png")], [Piece(0, 0, 2)], SHAPE,
                                watermark=Watermark(1, "center", "middle")))
    assert "overlay=x=(main_w-overlay_w)/2:y=(main_h-overlay_h)/2" in centred
    assert "[1:v]format=rgba" in centred  # no size asked: the image's own


def test_swapped_audio_replaces_and_imposed_tracks_mix_with_fades() -> None:
    swap = graph(Composition([Path("m"), Path("a")], [Piece(0, 0, 2)], SHAPE, swap_audio=1))
    assert "[sound]anullsink" in swap and "[1:a]" in swap and "atrim=end=2.000[swapped]" in swap
    mixed = graph(Composition([Path("m"), Path("a")], [Piece(0, 0, 4)], SHAPE,
                              imposed=[Imposed(1, 1, 3, fade_in=1, fade_out=1)]))
    assert "afade=t=in:st=0:d=1,afade=t=out:st=1:d=1,adelay=1000:all=1[imposed0]" in mixed
    assert "[sound][imposed0]amix=inputs=2:duration=first:normalize=0[audio]" in mixed
    silent = compose_command(Composition([Path("m")], [Piece(0, 0, 2, audio=False)], SHAPE), Path("o.mp4"))
    assert "[audio]" not in silent and "concat=n=1:v=1:a=0[joined]" in " ".join(silent)
