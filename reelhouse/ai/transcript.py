"""A timed transcript, and the text handling that subtitles, summaries and chapters share.

Transcripts are frozen dataclasses so a job can store one and reload it later with pydantic:
`TypeAdapter(Transcript).dump_json(t)` / `.validate_json(raw)`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# A sentence ends at a word ending in terminal punctuation, possibly followed by closing quotes or brackets.
SENTENCE_END = re.compile(r"[.!?…。！？][\"')\]”’」]*$")
# Within text, a sentence runs to terminal punctuation before a space (or the end), or to a full-width stop.
SENTENCE = re.compile(r"\S.*?(?:[.!?…][\"')\]”’」]*(?=\s|$)|[。！？][\"')\]”’」]*|$)", re.DOTALL)
# Scripts written without spaces between words: Thai, Lao, Tibetan, Myanmar, Khmer, kana and CJK ideographs.
SPACELESS = "\u0e00-\u0eff\u0f00-\u0fff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
LETTER = rf"(?:(?![{SPACELESS}])[^\W\d_])"
WORD = re.compile(rf"[{SPACELESS}]+|{LETTER}+(?:['’-]{LETTER}+)*")
SPACELESS_RUN = re.compile(rf"^[{SPACELESS}]")
MIN_SPEECH_WORDS = 20  # fewer words say too little to summarise or divide into chapters


class NoSpeechError(Exception):
    """There is too little speech to summarise or divide, so nothing is made up instead."""


@dataclass(frozen=True)
class Word:
    """A recognised word; its text keeps the leading space of languages that put spaces between words."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Sentence:
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Transcript:
    """What was said in an audio track, word by word, with times in seconds from its start."""

    language: str
    duration: float
    words: tuple[Word, ...]

    @property
    def text(self) -> str:
        return join(self.words)

    def sentences(self) -> list[Sentence]:
        spans = sentence_spans([word.text for word in self.words])
        return [Sentence(self.words[a].start, self.words[b - 1].end, join(self.words[a:b])) for a, b in spans]


def join(words: Sequence[Word]) -> str:
    return "".join(word.text for word in words).strip()


def sentence_spans(tokens: Sequence[str]) -> list[tuple[int, int]]:
    """[start, stop) index ranges of the sentences in a list of whitespace-separated tokens."""
    spans: list[tuple[int, int]] = []
    start = 0
    for index, token in enumerate(tokens):
        if ends_sentence(token):
            spans.append((start, index + 1))
            start = index + 1
    if start < len(tokens):
        spans.append((start, len(tokens)))
    return spans


def split_sentences(text: str) -> list[str]:
    """The sentences of `text`, also of languages that end them with a full-width stop and no space."""
    return [match.group().strip() for match in SENTENCE.finditer(" ".join(text.split()))]


def ends_sentence(token: str) -> bool:
    return SENTENCE_END.search(token) is not None


def require_speech(text: str, purpose: str) -> None:
    if len(words_of(text)) < MIN_SPEECH_WORDS:
        raise NoSpeechError(f"there is too little speech to {purpose}")


def words_of(text: str) -> list[str]:
    """The words of `text`, without punctuation or numbers; needs no tokenizer data. A run of a script written
    without spaces gives its overlapping character pairs, which stand in for its words (as in CJK search engines)."""
    words = []
    for word in WORD.findall(text):
        if SPACELESS_RUN.match(word) and len(word) > 2:
            words.extend(word[i : i + 2] for i in range(len(word) - 1))
        else:
            words.append(word)
    return words


def word_count(text: str) -> int:
    """Words as a reader counts them: separated by spaces, or about two characters each in a script without spaces."""
    return sum((len(w) + 1) // 2 if SPACELESS_RUN.match(w) else 1 for w in re.findall(rf"[{SPACELESS}]+|[^\s{SPACELESS}]+", text))


@dataclass(frozen=True)
class Lexicon:
    """How to compare sentences in one language: its stop words and a stemmer (both offline)."""

    stem: Callable[[str], str]
    stop_words: frozenset[str]

    @classmethod
    def for_language(cls, language: str) -> Lexicon:
        """sumy's stop words and NLTK's Snowball stemmers need no data download; other languages compare bare words."""
        # Imported here, where the jobs build a Lexicon, so that chapter files and transcripts load no sumy or NLTK.
        from sumy.nlp.stemmers import Stemmer, null_stemmer
        from sumy.utils import get_stop_words

        try:
            return cls(Stemmer(language), get_stop_words(language))
        except LookupError:
            return cls(null_stemmer, frozenset())

    def content_words(self, text: str) -> list[str]:
        """The lower-cased words of `text` that say what it is about: no stop words, nothing shorter than 3 letters."""
        lowered = (word.lower() for word in words_of(text))
        return [word for word in lowered
                if word not in self.stop_words and (len(word) > 2 or SPACELESS_RUN.match(word) is not None)]
