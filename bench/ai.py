"""Named-entity and moderation benchmark: how right each is, and what each costs per minute of video.

Run:  .venv/bin/python bench/ai.py [--no-speech]

  * entities: precision and recall of `reelhouse.ai.entities` on the hand-labelled sentences below (SENTENCES:
    each entity's text and OntoNotes type). Scored twice: on the text itself (the model alone), and, where
    espeak-ng is installed, on what Whisper (tiny.en) hears when espeak-ng speaks the sentences (the
    production path: synthetic speech → ASR → NER). An entity counts when text and type both match
    (case-insensitive, punctuation dropped); "untyped" counts a text match alone.
  * audio moderation: precision and recall of each category (profanity, hate, threats) on the hand-labelled
    sentences in SAYINGS, on the text.
  * video moderation: the nudity score of generated pictures that are safe (test patterns, flat skin tones,
    a gradient) and of tests/data/moderation_flagged.png, the abstract blobs that the model flags.
  * time per minute of video: entities and audio moderation over a minute of transcript (the labelled
    sentences repeated to 60 s), and video moderation (frame sampling with ffmpeg + scoring) of a generated
    60 s clip at 360p and 720p (x264 veryfast, B-frames as in real uploads), with model loading reported
    apart. Speech recognition itself is measured by bench/asr.py.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import TypeVar

import numpy as np

from reelhouse.ai import entities, moderation, nudity
from reelhouse.ai.speech import transcribe
from reelhouse.ai.transcript import Transcript, Word
from reelhouse.media import frames
from reelhouse.media.ffmpeg import run_ffmpeg
from reelhouse.settings import Settings

DATA = Path(__file__).parents[1] / "tests" / "data"
T = TypeVar("T")

# Hand-labelled: the entities a careful reader marks, with OntoNotes types (what en_core_web_sm predicts).
SENTENCES: list[tuple[str, list[tuple[str, str]]]] = [
    ("Barack Obama visited London to meet the leaders of Microsoft.",
     [("Barack Obama", "PERSON"), ("London", "GPE"), ("Microsoft", "ORG")]),
    ("Angela Merkel spoke in Berlin on Monday.", [("Angela Merkel", "PERSON"), ("Berlin", "GPE"), ("Monday", "DATE")]),
    ("The United Nations met in New York last week.",
     [("The United Nations", "ORG"), ("New York", "GPE"), ("last week", "DATE")]),
    ("Apple opened a new store in Tokyo.", [("Apple", "ORG"), ("Tokyo", "GPE")]),
    ("Marie Curie worked at the University of Paris.",
     [("Marie Curie", "PERSON"), ("the University of Paris", "ORG")]),
    ("Amazon hired two thousand people in Seattle.",
     [("Amazon", "ORG"), ("two thousand", "CARDINAL"), ("Seattle", "GPE")]),
    ("Elon Musk said Tesla would build a factory in Germany.",
     [("Elon Musk", "PERSON"), ("Tesla", "ORG"), ("Germany", "GPE")]),
    ("The river Thames flows through Oxford.", [("Thames", "LOC"), ("Oxford", "GPE")]),
    ("Serena Williams won Wimbledon in July.",
     [("Serena Williams", "PERSON"), ("Wimbledon", "EVENT"), ("July", "DATE")]),
    ("Google and Facebook were fined by the European Commission.",
     [("Google", "ORG"), ("Facebook", "ORG"), ("the European Commission", "ORG")]),
    ("Nelson Mandela was born in South Africa.", [("Nelson Mandela", "PERSON"), ("South Africa", "GPE")]),
    ("The weather was lovely that afternoon.", [("that afternoon", "TIME")]),
    ("We are cooking pasta with fresh tomatoes.", []),
    ("Pablo Picasso painted Guernica in Paris.",
     [("Pablo Picasso", "PERSON"), ("Guernica", "WORK_OF_ART"), ("Paris", "GPE")]),
    ("Toyota sold ten million cars in Japan.", [("Toyota", "ORG"), ("ten million", "CARDINAL"), ("Japan", "GPE")]),
]

# Hand-labelled: which audio categories each sentence belongs to.
SAYINGS: list[tuple[str, set[str]]] = [
    ("This is bullshit, damn it.", {"profanity"}),
    ("What the hell are you doing.", {"profanity"}),
    ("I am going to kill you.", {"threats"}),
    ("We will burn your house down.", {"threats"}),
    ("If you say that again I will break your legs.", {"threats"}),
    ("You are dead, do you hear me.", {"threats"}),
    ("I know where you live.", {"threats"}),
    ("Immigrants are vermin.", {"hate"}),
    ("All refugees should be deported because they are animals.", {"hate"}),
    ("I hate all Muslims.", {"hate"}),
    ("Those people are a disease on this country.", {"hate"}),
    ("Jews do not belong here.", {"hate"}),
    ("Good morning, and welcome to the show.", set()),
    ("We killed it at the concert last night.", set()),
    ("The rats in the barn ate the grain.", set()),
    ("Refugees should go back to their homes when the war ends.", set()),
    ("Women deserve equal pay.", set()),
    ("He shot a great film in Paris.", set()),
    ("I could murder a pizza right now.", set()),
    ("The meeting will end at noon.", set()),
]

PICTURES = {  # ffmpeg lavfi sources of safe pictures, and the committed flagged one
    "testsrc2 pattern": ["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=1:duration=1"],
    "SMPTE bars": ["-f", "lavfi", "-i", "smptebars=size=640x360:rate=1:duration=1"],
    "mandelbrot": ["-f", "lavfi", "-i", "mandelbrot=size=640x360:rate=1", "-frames:v", "1"],
    "flat light skin tone": ["-f", "lavfi", "-i", "color=c=0xE0AC8C:size=640x360:rate=1:duration=1"],
    "flat dark skin tone": ["-f", "lavfi", "-i", "color=c=0x8D5524:size=640x360:rate=1:duration=1"],
    "skin-tone gradient": ["-f", "lavfi", "-i", "gradients=size=640x360:c0=0xF1C27D:c1=0x8D5524:rate=1:duration=1"],
    "moderation_flagged.png (synthetic blobs)": ["-i", str(DATA / "moderation_flagged.png")],
}


def timed(work: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = work()
    return result, time.perf_counter() - start


def as_transcript(sentences: list[str], seconds_per_word: float = 0.4) -> Transcript:
    """Text as a transcript with evenly timed words (the times do not matter to what is found)."""
    words = [f" {w}" for s in sentences for w in s.split()]
    return Transcript("en", len(words) * seconds_per_word,
                      tuple(Word(i * seconds_per_word, (i + 1) * seconds_per_word, w) for i, w in enumerate(words)))


def _norm(text: str) -> str:
    return re.sub(r"^the ", "", re.sub(r"[^\w ]", "", text.lower())).strip()


def precision_recall(found: list[set[tuple[str, str]]], gold: list[set[tuple[str, str]]]) -> dict[str, float]:
    def score(f: list[set], g: list[set]) -> tuple[float, float]:
        hits = sum(len(a & b) for a, b in zip(f, g))
        return hits / max(1, sum(map(len, f))), hits / max(1, sum(map(len, g)))

    p, r = score(found, gold)
    pu, ru = score([{t for t, _ in s} for s in found], [{t for t, _ in s} for s in gold])
    return {"precision": round(p, 3), "recall": round(r, 3), "precision_untyped": round(pu, 3),
            "recall_untyped": round(ru, 3)}


def bench_entities_text() -> dict[str, float]:
    gold = [{(_norm(t), k) for t, k in ents} for _, ents in SENTENCES]
    found = [{(_norm(e.text), e.type) for e in entities.entities(as_transcript([s]))} for s, _ in SENTENCES]
    return precision_recall(found, gold)


def bench_entities_speech(folder: Path) -> dict[str, float] | None:
    """The sentences spoken by espeak-ng, heard by Whisper tiny.en, then NER over the whole transcript."""
    if shutil.which("espeak-ng") is None:
        return None
    text = " ".join(s for s, _ in SENTENCES)
    wav = folder / "sentences.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(wav), text], check=True)
    heard = transcribe(wav, "en", Settings(speech_model="tiny.en", speech_device="cpu"))
    found = {(_norm(e.text), e.type) for e in entities.entities(heard)}
    gold = {(_norm(t), k) for _, ents in SENTENCES for t, k in ents}
    return {**precision_recall([found], [gold]), "audio_s": round(heard.duration, 1)}


def bench_audio_moderation() -> dict[str, dict[str, float]]:
    results = {}
    for category in moderation.AUDIO_CATEGORIES:
        said = [category in moderation.categories(s) for s, _ in SAYINGS]
        meant = [category in labels for _, labels in SAYINGS]
        hits = sum(a and b for a, b in zip(said, meant))
        results[category] = {"precision": round(hits / max(1, sum(said)), 3),
                             "recall": round(hits / max(1, sum(meant)), 3)}
    return results


def sampled_scores(video: Path, folder: Path, duration: float) -> list[float]:
    """Video moderation's own path: ffmpeg samples the frames, the model scores them."""
    raw = folder / "frames.bgr"
    run_ffmpeg(frames.sample_args(video, raw, step=frames.interval(duration)), timeout=600)
    count = raw.stat().st_size // frames.FRAME_BYTES
    return nudity.scores(np.fromfile(raw, np.uint8).reshape(count, frames.CROP, frames.CROP, 3))


def bench_pictures(folder: Path) -> dict[str, float]:
    scores = {}
    for name, source in PICTURES.items():
        video = folder / "picture.mp4"
        run_ffmpeg(["-y", *source, "-frames:v", "1", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(video)], timeout=60)
        scores[name] = round(max(sampled_scores(video, folder, 1.0)), 4)
    return scores


def bench_per_minute(folder: Path) -> dict[str, float]:
    minute = [s for s, _ in SENTENCES] * 3
    said = as_transcript(minute, 60 / sum(len(s.split()) for s in minute))  # ~150 words said in one minute
    entities.entities(said)  # warm-up: the model loads
    _, entities_s = timed(lambda: entities.entities(said))
    moderation.moderate(said)
    _, audio_s = timed(lambda: moderation.moderate(said))
    results = {"entities_s": round(entities_s, 3), "audio_moderation_s": round(audio_s, 4)}
    _, load_s = timed(lambda: nudity.scores(np.zeros((1, frames.CROP, frames.CROP, 3), np.uint8)))
    results["image_model_load_s"] = round(load_s, 2)
    for height in (360, 720):
        video = folder / f"minute_{height}.mp4"
        run_ffmpeg(["-y", "-f", "lavfi", "-i", f"testsrc2=size={height * 16 // 9}x{height}:rate=30:duration=60",
                    "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", str(video)],
                   timeout=300)
        _, seconds = timed(lambda v=video: sampled_scores(v, folder, 60.0))
        results[f"video_moderation_{height}p_s"] = round(seconds, 2)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-speech", action="store_true", help="skip the espeak-ng → Whisper entity run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        results = {
            "entities_text": bench_entities_text(),
            "entities_speech": None if args.no_speech else bench_entities_speech(folder),
            "audio_moderation": bench_audio_moderation(),
            "pictures_nudity": bench_pictures(folder),
            "per_minute": bench_per_minute(folder),
        }
    print(f"machine: {os.cpu_count()} cores, {platform.machine()}, Python {sys.version.split()[0]}, spacy "
          f"{version('spacy')}, onnxruntime {version('onnxruntime')}, OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS', 'unset')}")
    for run in ("entities_text", "entities_speech"):
        r = results[run]
        print(f"{run:<16} " + ("skipped (no espeak-ng)" if r is None else
                                f"P {r['precision']:.0%} R {r['recall']:.0%} (untyped P {r['precision_untyped']:.0%}"
                                f" R {r['recall_untyped']:.0%})"))
    for category, r in results["audio_moderation"].items():
        print(f"audio {category:<10} P {r['precision']:.0%} R {r['recall']:.0%}  ({len(SAYINGS)} sentences)")
    for picture, score in results["pictures_nudity"].items():
        print(f"nudity {score:.4f}  {picture}")
    for what, seconds in results["per_minute"].items():
        print(f"per minute of video: {what} {seconds}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
