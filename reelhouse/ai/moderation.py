"""Moderation of what a media says (`audio` moderation): which sentences are offensive, and when they are said.

Each sentence of the transcript is checked against the word list of `better-profanity` (MIT), which also
catches leetspeak spellings ("f*ck", "5h1t"). That list mixes profanity with slurs and violent words, so it
yields one category, `profanity`; reelhouse does not score hate or threats separately yet. A category's score
is the share of the transcript's sentences flagged for it (0 for clean speech, 1 when every sentence is).
The list is English; a transcript in another language is refused with a reason rather than scored clean.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from reelhouse.ai.transcript import Transcript

LANGUAGES = frozenset({"en"})
PROFANITY = "profanity"
_lock = threading.Lock()
_loaded = False


class UnsupportedLanguageError(Exception):
    """The transcript is in a language the word list does not cover."""


@dataclass(frozen=True)
class Flag:
    """A flagged span of speech, in seconds from the start of the audio."""

    category: str
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Result:
    scores: dict[str, float]
    flagged: list[Flag]


def moderate(transcript: Transcript) -> Result:
    """Per-category scores and the flagged sentences; silence scores 0 everywhere."""
    if transcript.language not in LANGUAGES:
        raise UnsupportedLanguageError(
            f"audio moderation covers English only, and this media's speech is {transcript.language!r}")
    sentences = transcript.sentences()
    flagged = [Flag(PROFANITY, round(s.start, 3), round(s.end, 3), s.text) for s in sentences if _profane(s.text)]
    return Result({PROFANITY: round(len(flagged) / len(sentences), 3) if sentences else 0.0}, flagged)


def _profane(text: str) -> bool:
    global _loaded
    from better_profanity import profanity

    with _lock:
        if not _loaded:
            profanity.load_censor_words()
            _loaded = True
    return profanity.contains_profanity(text)
