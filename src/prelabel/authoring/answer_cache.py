"""Answers cached by prompt hash, model, item and sample, so an unchanged SOP case costs nothing twice.

The cache is one small SQLite file, ``$PRELABEL_CACHE_DIR/answers.sqlite`` (default
``~/.cache/prelabel/answers.sqlite``). A key is the SOP's prompt hash (template + rendered system prompt),
the model name (with the server's URL, unless OpenAI's or in-process), the sampling temperature, the item's
digest (``inputs.digest.item_digest`` of the item as it is sent, its personal data masked: what the prompt
shows of it, the digest the run ledger keeps too, so masking otherwise asks again) and
the sample index (``--repeat``/``--samples`` ask for several). Only answers are stored (``ok`` and
``abstained``): errors are asked again next time. ``use_cache=False`` (``--no-cache``) ignores what is stored
and replaces it with fresh answers. A cache file that is not a readable database (cut off, overwritten) is
set aside as ``answers.sqlite.corrupt`` and a new cache is started (``AnswerCache.note`` says so): it only
ever held answers that can be asked again.

``Answerer`` puts the cache in front of a ``Labeler``: the labeler (and its credential check) is built only
when some answer is missing, and missing answers go through ``Labeler.alabel_entries``, the batch path with
its rate limits, concurrency and "endpoint unreachable" stop.

    >>> import tempfile
    >>> from prelabel.labeling.result import LabelResult
    >>> cache = AnswerCache(Path(tempfile.mkdtemp()) / "answers.sqlite")
    >>> key = AnswerKey("sha256:p", "gpt-4o-mini", 0.0, "sha256:i", 0)
    >>> cache.get(key) is None
    True
    >>> cache.put(key, LabelResult(item_id="a", status="ok", label="x", model="gpt-4o-mini", sop_id="s",
    ...                            sop_version="1", prompt_hash="sha256:p", template="classify.v1"))
    >>> cache.get(key).label
    'x'
"""

from __future__ import annotations

import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prelabel._jsonio import move_aside
from prelabel.errors import InputError
from prelabel.inputs.items import Item
from prelabel.inputs.reading import BadItem
from prelabel.labeling.labeler import Labeler
from prelabel.labeling.options import LabelOptions
from prelabel.labeling.result import LabelResult
from prelabel.llm.endpoints import OPENAI_URL
from prelabel.prompt.masking import mask_policy, masked_digest
from prelabel.prompt.rendering import prompt_hash
from prelabel.sop.spec import SOP

__all__ = ["CACHE_FILE", "AnswerCache", "AnswerKey", "Answerer", "cache_dir", "open_cache"]

CACHE_FILE = "answers.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    prompt_hash TEXT NOT NULL,
    model TEXT NOT NULL,
    temperature REAL NOT NULL,
    item_hash TEXT NOT NULL,
    sample INTEGER NOT NULL,
    result TEXT NOT NULL,
    PRIMARY KEY (prompt_hash, model, temperature, item_hash, sample)
)
"""


def cache_dir() -> Path:
    """``$PRELABEL_CACHE_DIR``, else ``$XDG_CACHE_HOME/prelabel``, else ``~/.cache/prelabel``."""
    base = os.environ.get("PRELABEL_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "prelabel"
    )
    return Path(base)


@dataclass(frozen=True)
class AnswerKey:
    """What an answer depends on: prompt hash, model, temperature, item digest and sample index."""

    prompt_hash: str
    model: str
    temperature: float
    item_hash: str
    sample: int


class AnswerCache:
    """Answers in a SQLite file (created on first use); safe to share between threads and processes."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self.note: str | None = None
        """What happened to a damaged cache file (set aside, a new one started), else ``None``."""
        try:
            try:
                self._db = self._open()
            except sqlite3.DatabaseError as exc:
                if isinstance(exc, sqlite3.OperationalError):  # locked, unreadable: not the content's fault
                    raise
                aside = self._set_aside()
                self.note = (
                    f"the answer cache {self.path} was not a readable database ({exc}); it was set aside as "
                    f"{aside} and a new cache started (its answers are asked again)"
                )
                self._db = self._open()
        except (OSError, sqlite3.Error) as exc:
            raise InputError(
                f"answer cache {self.path}: {exc}; set PRELABEL_CACHE_DIR to a folder you can write"
            ) from None

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)
            db.execute("SELECT count(*) FROM answers").fetchone()
        except sqlite3.Error:
            db.close()
            raise
        return db

    def _set_aside(self) -> Path:
        """Move the damaged file (and its WAL sidecars) to ``NAME.corrupt``, replacing an older one."""
        aside = self.path.with_name(self.path.name + ".corrupt")
        for suffix in ("", "-wal", "-shm"):
            source = self.path.with_name(self.path.name + suffix)
            if source.exists():
                move_aside(source, aside.with_name(aside.name + suffix))
        return aside

    def get(self, key: AnswerKey) -> LabelResult | None:
        """The cached answer for ``key``, or ``None``."""
        with self._lock:
            row = self._db.execute(
                "SELECT result FROM answers WHERE prompt_hash=? AND model=? AND temperature=? "
                "AND item_hash=? AND sample=?",
                (key.prompt_hash, key.model, key.temperature, key.item_hash, key.sample),
            ).fetchone()
        return None if row is None else LabelResult.model_validate_json(row[0])

    def put(self, key: AnswerKey, result: LabelResult) -> None:
        """Store (or replace) the answer for ``key``; error records are not stored."""
        if not result.ok:
            return
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?)",
                (key.prompt_hash, key.model, key.temperature, key.item_hash, key.sample, result.to_json()),
            )

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM answers").fetchone()[0])

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()


def open_cache(cache: AnswerCache | str | Path | bool | None) -> AnswerCache | None:
    """``True``: the default cache file; a path: that file; an ``AnswerCache``: itself; ``False``/``None``:
    no cache."""
    if cache is True:
        return AnswerCache(cache_dir() / CACHE_FILE)
    if isinstance(cache, str | Path):
        return AnswerCache(cache)
    return cache or None


class Answerer:
    """Answers items under one SOP with one model: cached answers first, then the model (``Labeler``)."""

    def __init__(
        self,
        sop: SOP,
        options: LabelOptions,
        *,
        client: Any = None,
        cache: AnswerCache | None = None,
        use_cache: bool = True,
    ):
        self.sop = sop
        self.options = options
        self.client = client
        self.cache = cache
        self.use_cache = use_cache
        endpoint = options.endpoint(client)
        self.model = endpoint.model
        server = endpoint.describe()["base_url"]  # never credentials
        # the same model name on another server (two vLLMs, a proxy) is another model; OpenAI's and the
        # embedded model's keys are the bare name, as before
        self.cache_model = self.model if server in ("in-process", OPENAI_URL) else f"{self.model} @ {server}"
        self.temperature = float(options.temperature or 0.0)
        self.prompt_hash = prompt_hash(sop, options.template, options.rationale_language)
        self.masking = mask_policy(sop, options.mask)  # before any model call: a missing package fails here
        self.from_cache = 0
        self._labeler: Labeler | None = None

    @property
    def requests(self) -> int:
        """Requests sent to the model, every one: those of an item an unusable endpoint stopped too."""
        return 0 if self._labeler is None else self._labeler.caller.sent

    def labeler(self) -> Labeler:
        """The labeler, built on first need (its credential check too)."""
        if self._labeler is None:
            self._labeler = Labeler(self.sop, self.options, client=self.client)
        return self._labeler

    def key(self, item: Item, sample: int) -> AnswerKey:
        """The cache key of one sample of ``item``."""
        digest = masked_digest(self.masking, item)  # of the item as it is sent, as the run ledger keys it
        return AnswerKey(self.prompt_hash, self.cache_model, self.temperature, digest, sample)

    def _cached(self, entry: Item | BadItem, sample: int) -> LabelResult | None:
        if not isinstance(entry, Item) or self.cache is None or not self.use_cache:
            return None
        found = self.cache.get(self.key(entry, sample))
        return None if found is None else found.model_copy(update={"item_id": entry.id})

    async def answer(self, entries: list[Item | BadItem], samples: int = 1) -> list[list[LabelResult]]:
        """``samples`` answers for each entry, in input order (bad entries become error records).

        Raises ``EndpointError`` when the endpoint is unusable or unreachable for every request.
        """
        results: dict[tuple[int, int], LabelResult] = {}
        missing: list[tuple[int, Item | BadItem]] = []
        for position, entry in enumerate(entries):
            for sample in range(samples):
                found = self._cached(entry, sample)
                if found is None:
                    missing.append((position * samples + sample, entry))
                else:
                    self.from_cache += 1
                    results[position, sample] = found

        def keep(index: int, result: LabelResult) -> None:
            position, sample = divmod(index, samples)
            entry = entries[position]
            if self.cache is not None and isinstance(entry, Item):
                self.cache.put(self.key(entry, sample), result)
            results[position, sample] = result

        if missing:
            await self.labeler().alabel_entries(missing, total=len(missing), on_result=keep)
        return [[results[p, s] for s in range(samples)] for p in range(len(entries))]

    async def aclose(self) -> None:
        """Close the labeler's http client, if one was built."""
        if self._labeler is not None:
            await self._labeler.aclose()
