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
transcript. Request handlers validate with `speech.supports` and `summary.MIN_LENGTH`/`MAX_LENGTH`,
which load no model. Each module's docstring says how its errors map to answers.
"""
