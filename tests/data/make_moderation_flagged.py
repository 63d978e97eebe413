"""How tests/data/moderation_flagged.png was made: abstract skin-toned blobs hill-climbed until open_nsfw flags them.

No photograph is involved: the picture is a background plus 11 blurred ellipses, and random changes to their
places, sizes and colours are kept while the model's nudity score rises (seed 1, at most 240 s or a score of 0.9).
Run:  .venv/bin/python tests/data/make_moderation_flagged.py tests/data/moderation_flagged.png
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from reelhouse.ai import nudity
from reelhouse.media.ffmpeg import run_ffmpeg

SIZE, CROP, BLOBS = 256, 224, 12
rng = np.random.default_rng(1)
yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
SKIN = np.array([[125, 172, 224], [66, 134, 198], [36, 85, 141], [100, 150, 200], [60, 60, 80]], np.float32)  # BGR


def render(p: np.ndarray) -> np.ndarray:
    """Row 0's colour is the background; each further row is a blob: centre x, y, radii x, y, B, G, R, opacity."""
    img = np.zeros((SIZE, SIZE, 3), np.float32) + p[0, 4:7]
    for cx, cy, sx, sy, b, g, r, a in p[1:]:
        w = (np.exp(-(((xx - cx) / sx) ** 2 + ((yy - cy) / sy) ** 2)) * a)[..., None]
        img = img * (1 - w) + np.array([b, g, r]) * w
    return np.clip(img, 0, 255)


def score(images: list[np.ndarray]) -> np.ndarray:
    off = (SIZE - CROP) // 2
    return np.array(nudity.scores(np.stack([i[off:off + CROP, off:off + CROP] for i in images]).astype(np.uint8)))


def random_blobs() -> np.ndarray:
    p = np.zeros((BLOBS, 8), np.float32)
    p[:, 0:2] = rng.uniform(20, 236, (BLOBS, 2))
    p[:, 2:4] = rng.uniform(15, 90, (BLOBS, 2))
    p[:, 4:7] = SKIN[rng.integers(0, len(SKIN), BLOBS)]
    p[:, 7] = rng.uniform(0.5, 1, BLOBS)
    return p


def main(dest: Path) -> None:
    best = max((random_blobs() for _ in range(32)), key=lambda p: score([render(p)])[0])
    best_score = score([render(best)])[0]
    scale = np.array([8, 8, 5, 5, 6, 6, 6, 0.05], np.float32)
    start = time.monotonic()
    while time.monotonic() - start < 240 and best_score < 0.9:
        tries = [best + rng.normal(0, 1, best.shape).astype(np.float32) * scale * (rng.random(best.shape) < 0.3)
                 for _ in range(8)]
        scores = score([render(t) for t in tries])
        if scores.max() > best_score:
            best, best_score = tries[int(scores.argmax())], scores.max()
    raw = dest.with_suffix(".bgr")
    raw.write_bytes(render(best).astype(np.uint8).tobytes())
    run_ffmpeg(["-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{SIZE}x{SIZE}", "-i", str(raw), "-frames:v", "1",
                str(dest)], timeout=60)
    raw.unlink()
    print(f"{dest}: nudity {best_score:.3f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
