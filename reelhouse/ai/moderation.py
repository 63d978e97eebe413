"""Moderation: what a media says (`audio`) and shows (`video`), scored per category with the times to look at.

Audio, English only (a transcript in another language is refused with a reason rather than scored clean); each
transcript sentence is checked for three categories:
- `profanity`: the word list of `better-profanity` (MIT), which also catches leetspeak spellings ("f*ck",
  "5h1t"); that list holds swearing, slurs and sexual words alike, so slurs count here.
- `threats` and `hate`: no well-kept offline classifier for them installs from PyPI, so these are reelhouse's own
  small hand-written English patterns (THREAT_PATTERNS; HATE_GROUPS near HATE_WORDS), a heuristic that catches plain
  statements ("I'm going to kill you", "immigrants are vermin") and misses anything subtler. They are listed
  below and documented as such in docs/speech.md.
An audio category's score is the share of sentences flagged for it (0 for clean speech or silence).

Video: sampled frames scored by `reelhouse.ai.nudity` for one category, `nudity` (sexually explicit pictures);
its score is the highest probability of any frame, and runs of frames at or above FLAG_AT are flagged as time
ranges. Violence, gore, weapons and drugs in pictures are not scored: no offline model for them installs from PyPI.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from reelhouse.ai.transcript import Transcript

LANGUAGES = frozenset({"en"})
PROFANITY, HATE, THREATS, NUDITY = "profanity", "hate", "threats", "nudity"
AUDIO_CATEGORIES = (PROFANITY, HATE, THREATS)
VIDEO_CATEGORIES = (NUDITY,)
FLAG_AT = 0.5  # a frame this likely to be explicit is flagged (open_nsfw's own suggested cut-off)

_ACTOR = r"\b(?:i|we|i'm|we're|i'll|we'll)\b"
_VIOLENCE = (r"kill|murder|shoot|stab|strangle|hang|burn|bomb|hurt|beat|slit|choke|break|slaughter|execute|"
             r"hunt|torture|rape|end")
THREAT_PATTERNS = [re.compile(p) for p in (
    # "I'm going to kill you", "we will burn your house", "I'll find you and hurt you"
    rf"{_ACTOR}\s+(?:\w+\s+){{0,4}}?(?:{_VIOLENCE})(?:s|ed|ing)?\s+(?:you|him|her|them|your|his|their|all|every)\b",
    r"\byou(?:'re| are)\s+(?:so\s+|going to be\s+|gonna be\s+)?(?:dead|going to die|gonna die)\b",
    r"\b(?:death to|i want you dead|watch your back|you(?:'ll| will) pay for|i know where you live)\b",
)]
HATE_GROUPS = (r"immigrants?|refugees?|foreigners?|migrants?|jews?|muslims?|christians?|hindus?|sikhs?|blacks?|"
               r"whites?|asians?|arabs?|mexicans?|africans?|gays?|lesbians?|homosexuals?|trans(?:gender)? people|"
               r"transgender|women|girls|disabled people|gypsies|roma")
HATE_WORDS = (r"vermin|subhuman|sub-human|animals|parasites|rats|cockroaches|filth|a disease|a plague|inferior|"
              r"savages|should (?:all )?(?:die|be killed|be exterminated|be gassed|be wiped out)|get rid of|"
              r"go back (?:to )?where they came from|go back to (?:their|your) (?:own )?countr(?:y|ies)|"
              r"don't belong|do not belong|exterminate|wipe out|are not human|aren't human")
HATE_PATTERNS = [re.compile(p) for p in (
    rf"\b(?:{HATE_GROUPS})\b.*\b(?:{HATE_WORDS})\b",
    rf"\b(?:{HATE_WORDS})\b.*\b(?:{HATE_GROUPS})\b",
    rf"\bi (?:hate|despise) (?:all )?(?:the )?(?:{HATE_GROUPS})\b",
)]

_lock = threading.Lock()
_loaded = False


class UnsupportedLanguageError(Exception):
    """The transcript is in a language the word lists do not cover."""


@dataclass(frozen=True)
class Flag:
    """A flagged span, in seconds from the start of the media: the sentence said, or the frames' highest score."""

    category: str
    start: float
    end: float
    text: str | None = None
    score: float | None = None

    def wire(self) -> dict[str, object]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class Result:
    scores: dict[str, float]
    flagged: list[Flag]

    def wire(self, kind: str, **extra: object) -> dict[str, object]:
        """The `data` of the media's `moderation` record."""
        return {"type": kind, "scores": self.scores, "flagged": [f.wire() for f in self.flagged], **extra}


def moderate(transcript: Transcript) -> Result:
    """Per-category scores and the flagged sentences; silence scores 0 everywhere."""
    if transcript.language not in LANGUAGES:
        raise UnsupportedLanguageError(
            f"audio moderation covers English only, and this media's speech is {transcript.language!r}")
    sentences = transcript.sentences()
    flagged = [Flag(category, round(s.start, 3), round(s.end, 3), s.text)
               for s in sentences for category in categories(s.text)]
    return Result({c: round(sum(f.category == c for f in flagged) / len(sentences), 3) if sentences else 0.0
                   for c in AUDIO_CATEGORIES}, flagged)


def categories(text: str) -> list[str]:
    """The audio categories one sentence falls in."""
    lowered = " ".join(text.lower().replace("’", "'").split())
    found = [PROFANITY] * _profane(text)
    found += [HATE] * any(p.search(lowered) for p in HATE_PATTERNS)
    found += [THREATS] * any(p.search(lowered) for p in THREAT_PATTERNS)
    return found


def frames(probabilities: Sequence[float], step: float, duration: float) -> Result:
    """The video result from per-frame probabilities of nudity, frame i standing for [i × step, (i+1) × step)."""
    flagged: list[Flag] = []
    run: list[int] = []
    for i, p in enumerate([*probabilities, 0.0]):  # the sentinel closes a run that lasts to the end
        if p >= FLAG_AT:
            run.append(i)
        elif run:
            end = min((run[-1] + 1) * step, duration) if duration > 0 else (run[-1] + 1) * step
            flagged.append(Flag(NUDITY, round(run[0] * step, 3), round(end, 3),
                                score=round(max(probabilities[j] for j in run), 3)))
            run = []
    return Result({NUDITY: round(max(probabilities, default=0.0), 3)}, flagged)


def combine(video: Result, audio: Result) -> Result:
    """`av`: both results, flags in the order they happen."""
    return Result({**video.scores, **audio.scores},
                  sorted([*video.flagged, *audio.flagged], key=lambda f: (f.start, f.category)))


def _profane(text: str) -> bool:
    global _loaded
    from better_profanity import profanity

    with _lock:
        if not _loaded:
            profanity.load_censor_words()
            _loaded = True
    return profanity.contains_profanity(text)
