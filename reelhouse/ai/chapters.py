"""Topical chapters of a video from its timed transcript.

Wiring for `PATCH /on-demand/{mediaId}/chapters` and the create-time `chapters` option: the chapters
job loads the stored transcript and calls `chapters(transcript)`; the list is the `data` of the media's
`chapters` record (spec §6.1 notes) and `chapters_webvtt(...)` is the WebVTT chapters file. As with
summaries, `NoSpeechError` is a clear "no speech" state rather than invented chapters.

The split is TextTiling (Hearst, 1997) over sentences: where the words used in the sentences just
before a point share least with those just after it, compared with the points around it, the topic
changed. It needs no trained model or downloaded data.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from reelhouse.ai import vtt
from reelhouse.ai.transcript import Lexicon, Sentence, Transcript, require_speech

MIN_CHAPTER_SECONDS = 30.0
MAX_CHAPTERS = 12  # longer videos get longer chapters rather than more of them
TITLE_WORDS = 3


@dataclass(frozen=True)
class Chapter:
    start: float
    end: float
    title: str


def chapters(transcript: Transcript) -> list[Chapter]:
    """Chapters covering [0, duration] in order without gaps, titled by their distinctive words.

    Each is at least 30 s long (and 1/12 of the duration), so speech shorter than a minute is one chapter.
    """
    require_speech(transcript.text, "divide into chapters")
    lexicon = Lexicon.for_language(transcript.language)
    sentences = transcript.sentences()
    bags = [Counter(map(lexicon.stem, lexicon.content_words(s.text))) for s in sentences]
    min_length = max(MIN_CHAPTER_SECONDS, transcript.duration / MAX_CHAPTERS)
    starts = _boundaries(sentences, bags, transcript.duration, min_length)
    edges = [0, *starts, len(sentences)]
    times = [0.0, *(_gap_time(sentences, i) for i in starts), transcript.duration]
    parts = [" ".join(s.text for s in sentences[a:b]) for a, b in itertools.pairwise(edges)]
    titles = _titles(parts, lexicon)
    return [Chapter(start, end, title) for (start, end), title in zip(itertools.pairwise(times), titles, strict=True)]


def chapters_webvtt(chapters: Sequence[Chapter]) -> str:
    return vtt.document((chapter.start, chapter.end, chapter.title) for chapter in chapters)


def _boundaries(sentences: list[Sentence], bags: list[Counter[str]], duration: float, min_length: float) -> list[int]:
    """Indices of the sentences that start a chapter: deepest dips in similarity first, while chapters stay long enough.

    The speech in one minimum chapter length before each pause is compared with the same length
    after it; a dip's depth is how far it lies below the highest similarity within that distance
    on either side, which ignores the small wobbles between sentences of one topic.
    """
    starts = [sentence.start for sentence in sentences]
    gaps = [_gap_time(sentences, i) for i in range(1, len(sentences))]
    scores = []
    for i, time in enumerate(gaps, start=1):
        before = sum(bags[bisect.bisect_left(starts, time - min_length) : i], Counter())
        after = sum(bags[i : bisect.bisect_left(starts, time + min_length)], Counter())
        scores.append(_cosine(before, after))
    depths = []
    for j, time in enumerate(gaps):
        lo, hi = bisect.bisect_left(gaps, time - min_length), bisect.bisect_right(gaps, time + min_length)
        depths.append(max(scores[lo : j + 1]) + max(scores[j:hi]) - 2 * scores[j])
    chosen: list[int] = []
    for j in sorted(range(len(gaps)), key=lambda j: -depths[j]):
        times = [0.0, duration, *(gaps[c] for c in chosen)]
        if depths[j] > 0 and all(abs(gaps[j] - time) >= min_length for time in times):
            chosen.append(j)
    return sorted(j + 1 for j in chosen)


def _cosine(a: Counter[str], b: Counter[str]) -> float:
    dot = sum(count * b[term] for term, count in a.items())
    norm = math.sqrt(sum(v * v for v in a.values()) * sum(v * v for v in b.values()))
    return dot / norm if norm else 0.0


def _gap_time(sentences: list[Sentence], start: int) -> float:
    """The middle of the pause before sentence `start`."""
    return (sentences[start - 1].end + sentences[start].start) / 2


def _titles(parts: list[str], lexicon: Lexicon) -> list[str]:
    """Each part's words weighted by tf-idf across the parts, the top few joined: what sets it apart from the others."""
    words = [lexicon.content_words(part) for part in parts]
    stems = [[lexicon.stem(word) for word in part] for part in words]
    spread = Counter(stem for part in stems for stem in set(part))
    titles = []
    for number, (part_words, part_stems) in enumerate(zip(words, stems, strict=True), start=1):
        counts = Counter(part_stems)
        spelling = {stem: word for word, stem in reversed(list(zip(part_words, part_stems, strict=True)))}  # first seen
        ranked = sorted(counts, key=lambda s: -counts[s] * math.log((1 + len(parts)) / spread[s]))
        top = [spelling[stem] for stem in ranked[:TITLE_WORDS]]
        titles.append(", ".join(top).capitalize() if top else f"Chapter {number}")
    return titles
