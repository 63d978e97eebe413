"""Short summaries of what a video says, made from its transcript only.

Wiring for spec §7.18–7.19: the summary job loads the stored transcript and calls
`summarize(transcript.text, summaryLength, settings, language=transcript.language)`; the string it
returns is the `data` of `GET /on-demand/{mediaId}/summary`. `NoSpeechError` means the media says too
little to summarise: show that as a clear state, never a made-up summary. The request (400) checks
`summaryLength` against `MIN_LENGTH`..`MAX_LENGTH` before the job is queued, in its own schema: this
module imports sumy, which the API does not load.

Offline (the default) the summary is extractive: LexRank (sumy) picks the transcript's most central
sentences, which are returned verbatim in their original order within the word budget. With
`REELHOUSE_SUMMARY_LLM_URL` set, an OpenAI-compatible chat endpoint writes an abstractive summary
instead, told to state nothing the transcript does not; if it fails, the extractive summary is used.
"""

from __future__ import annotations

import logging

import httpx
from sumy.models.dom import ObjectDocumentModel, Paragraph, Sentence
from sumy.summarizers._summarizer import SentenceInfo
from sumy.summarizers.lex_rank import LexRankSummarizer

from reelhouse.ai.transcript import Lexicon, require_speech, split_sentences, word_count, words_of
from reelhouse.settings import Settings

log = logging.getLogger(__name__)

MIN_LENGTH, MAX_LENGTH = 30, 250  # summaryLength, in words (spec §7.19)
LLM_TIMEOUT = 120.0
PROMPT = (
    "You summarise transcripts of videos. Write a summary of about {words} words of the transcript the user"
    " sends, as plain prose in the language of the transcript, with no title, list or preamble. State only"
    " what the transcript says: add no facts, names, numbers, opinions or background that it does not"
    " contain, and leave out anything that is unclear."
)


def summarize(transcript_text: str, words: int, settings: Settings, *, language: str = "en") -> str:
    """A summary of about `words` words (at most that many when extractive)."""
    if not MIN_LENGTH <= words <= MAX_LENGTH:
        raise ValueError(f"summary length must be {MIN_LENGTH}–{MAX_LENGTH} words, not {words}")
    require_speech(transcript_text, "summarise")
    if settings.summary_llm_url:
        try:
            return _abstractive(transcript_text, words, settings.summary_llm_url, settings)
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("summary endpoint %s failed (%s); summarising extractively", settings.summary_llm_url, exc)
    return extractive(transcript_text, words, language)


def extractive(text: str, words: int, language: str = "en") -> str:
    """The transcript's most central sentences, verbatim and in order, together at most `words` words.

    A transcript whose best sentence alone is too long (speech without punctuation) gives that
    sentence cut to the budget, ending in "…".
    """
    lexicon = Lexicon.for_language(language)
    tokenizer = _RegexTokenizer()
    document = ObjectDocumentModel([Paragraph([Sentence(s, tokenizer) for s in split_sentences(text)])])
    summarizer = LexRankSummarizer(lexicon.stem)
    summarizer.stop_words = lexicon.stop_words

    def within_budget(ranked: list[SentenceInfo]) -> list[SentenceInfo]:
        """sumy hands over the sentences best first; keep each that still fits the budget."""
        kept, used = [], 0
        for info in ranked:
            size = word_count(str(info.sentence))
            if used + size <= words:
                kept.append(info)
                used += size
        return kept or ranked[:1]

    summary = " ".join(str(sentence) for sentence in summarizer(document, within_budget))
    if word_count(summary) <= words:
        return summary
    tokens = summary.split()
    if len(tokens) > words:
        return " ".join(tokens[:words]) + "…"
    return summary[: words * 2] + "…"  # a sentence without spaces: about two characters a word


class _RegexTokenizer:
    """The part of sumy's tokenizer that sentences use, without NLTK's punkt data (which is not installed)."""

    @staticmethod
    def to_words(sentence: str) -> list[str]:
        return words_of(sentence)


def _abstractive(text: str, words: int, url: str, settings: Settings) -> str:
    body: dict[str, object] = {
        "messages": [
            {"role": "system", "content": PROMPT.format(words=words)},
            {"role": "user", "content": text},
        ],
        "temperature": 0,
    }
    if settings.summary_llm_model:
        body["model"] = settings.summary_llm_model
    headers = {"Authorization": f"Bearer {settings.summary_llm_api_key}"} if settings.summary_llm_api_key else {}
    response = httpx.post(url.rstrip("/") + "/chat/completions", json=body, headers=headers, timeout=LLM_TIMEOUT)
    response.raise_for_status()
    try:
        content = response.json()["choices"][0]["message"]["content"]
    except (ValueError, LookupError, TypeError) as exc:
        raise ValueError("the reply is not an OpenAI chat completion") from exc
    if not isinstance(content, str) or not content.strip():
        raise ValueError("the reply has no summary text")
    return content.strip()
