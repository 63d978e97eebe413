"""Subtitles by speech recognition, summaries and chapters, computed on this machine with no network.

* `speech`: transcribe an audio file with faster-whisper (`transcribe`), turn the timed words into
  readable subtitle cues (`cues`) and a WebVTT file (`webvtt`); `supports` answers whether the
  configured model knows a language. `models` finds, verifies and loads the Whisper model.
* `summary`: a summary of a transcript's text, extractive offline or abstractive through an
  OpenAI-compatible endpoint.
* `chapters`: topical chapters of a timed transcript, and a WebVTT chapters file.
* `transcript`: the `Transcript` that a subtitle job produces and summary and chapter jobs read.

The API and job layer stays thin: a subtitle job calls `transcribe` once, stores the WebVTT as the
track and the transcript (JSON, see `transcript`) beside it; summary and chapter jobs read that
transcript. Each module's docstring says how its errors map to answers.

faster-whisper, CTranslate2, numpy and sumy take over a second to import, so only the jobs load them.
Importing `speech`, `models`, `chapters` or `transcript` loads none of them (tests/test_import_cost.py),
nor does what request handlers use: `speech.supports` and `speech.UnsupportedLanguageError` (unless the
model is a hub name, looked up in the cache by faster-whisper), `models.ModelError`, `chapters.Chapter`
and `chapters.chapters_webvtt`. `summary` imports sumy, so the API does not import it.
"""
