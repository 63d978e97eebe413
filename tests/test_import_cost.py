"""The web app loads no speech recognition or summarising library; only the jobs that use them do.

Together they take about 1.5 s to import, which every API process, CLI command and test would pay. Each case
runs in a fresh interpreter, since this one may have loaded them long ago.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.conftest import IN_ONE_PASS

pytestmark = IN_ONE_PASS  # nothing here touches the database, so the PostgreSQL pass would only repeat it

HEAVY = {"faster_whisper", "ctranslate2", "numpy", "sumy"}


def heavy_modules_after(code: str) -> list[str]:
    """Which of the heavy libraries a fresh interpreter has loaded once it has run `code`."""
    report = "import json, sys; print(json.dumps(sorted({name.partition('.')[0] for name in sys.modules})))"
    script = textwrap.dedent(code) + "\n" + report
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return sorted(HEAVY.intersection(json.loads(result.stdout)))


def test_importing_the_ai_modules_the_api_uses_is_light() -> None:
    assert heavy_modules_after("import reelhouse.ai.speech, reelhouse.ai.models, reelhouse.ai.chapters") == []


def test_what_request_handlers_call_is_light() -> None:
    """The language check (for an English-only and a multilingual model) and the chapters file."""
    code = """
        from reelhouse.ai import chapters, models, speech
        from reelhouse.settings import Settings

        for model in ["tiny.en", "base"]:
            settings = Settings(speech_model=model)
            assert not speech.supports("xx-XX", settings)
            assert str(speech.UnsupportedLanguageError("xx-XX", settings))
        assert issubclass(models.ModelError, Exception)
        assert chapters.chapters_webvtt([chapters.Chapter(0.0, 30.0, "Intro")]).startswith("WEBVTT")
    """
    assert heavy_modules_after(code) == []


def test_importing_the_app_is_light() -> None:
    assert heavy_modules_after("import reelhouse.app") == []


def test_a_worker_loads_the_speech_engine_only_for_speech_jobs() -> None:
    """Step modules are imported when a worker first runs their kind."""
    code = """
        from reelhouse.jobs import registry

        for kind in ["ingest", "transcode", "ladder", "mp4", "track"]:
            registry.step(kind)
    """
    assert heavy_modules_after(code) == []
    assert heavy_modules_after("from reelhouse.jobs import registry; registry.step('summary')") != []
