"""The Workspace: what every verb works in, opened once per verb and passed down.

It holds the results store, the feature cache, the data set (loaded when first asked for, once,
with its source's labels; `labelled` gives it under an experiment's labels, made once each) and the
command that the records appended in it carry. A record appended in it, by this process or by its
workers, makes the boards stale; a verb that changes what the boards link (a report) says so with
`boards_changed`. Closed without an error, it rewrites stale boards once, through the `boards`
function its opener gives (the boards are rendered in a layer above this one).
"""

import logging
import os
from collections.abc import Callable
from functools import cached_property
from pathlib import Path

from fer_bench.data import Dataset, load_dataset
from fer_bench.data.labels import Labels
from fer_bench.parts.cache import ArrayCache
from fer_bench.runs.records import Record, RecordStore

log = logging.getLogger("fer_bench")


class Workspace:
    def __init__(
        self,
        results: str | os.PathLike[str] | None = None,
        cache: str | os.PathLike[str] | ArrayCache | None = None,
        data: str | os.PathLike[str] | Dataset | None = None,
        command: str = "",
        *,
        writable: bool = False,
        needs_records: bool = False,
        boards: Callable[[Path], Path] | None = None,
    ):
        """`data`: a Dataset, a path, or None for $FER_BENCH_DATA. `writable`: refuse an unwritable
        results folder now, before any work; `needs_records`: refuse one without records now."""
        self.store = RecordStore(results)
        if needs_records:
            self.store.with_records()
        if writable:
            self.store.check_writable()
        self.cache = cache if isinstance(cache, ArrayCache) else ArrayCache(cache)
        self.command = command
        self._data = data
        self._boards = boards
        self._labelled: dict[str, Dataset] = {}
        self._records_seen = self._records_size()
        self._boards_changed = False

    @cached_property
    def dataset(self) -> Dataset:
        """The data set with its source's own labels, its decoded images kept in the cache."""
        if isinstance(self._data, Dataset):
            return self._data
        path = self._data if self._data is not None else os.environ.get("FER_BENCH_DATA")
        dataset = load_dataset(path, self.cache)
        log.info(dataset.summary())
        return dataset

    def labelled(self, labels: Labels) -> Dataset:
        """The data set under `labels`, made once (FER+ labels join the vote file, and the
        fingerprint hashes every image)."""
        if labels.name not in self._labelled:
            self._labelled[labels.name] = labels.apply(self.dataset)
        return self._labelled[labels.name]

    def records(self) -> list[Record]:
        return self.store.all()

    def boards_changed(self) -> None:
        """Mark the boards stale without a new record: a report they link was written."""
        self._boards_changed = True

    @property
    def stale(self) -> bool:
        return self._boards_changed or self._records_size() != self._records_seen

    def close(self) -> Path | None:
        """Rewrite the boards if they are stale; returns the leaderboard's path if it was written."""
        if self._boards is None or not self.stale:
            return None
        path = self._boards(self.store.root)
        self._records_seen, self._boards_changed = self._records_size(), False
        log.info(f"leaderboard updated: {path}")
        return path

    def __enter__(self) -> "Workspace":
        return self

    def __exit__(self, error_type, error, trace) -> None:
        if error_type is None:  # after an error (Ctrl-C included) the boards are left for the next verb
            self.close()

    def __getstate__(self) -> dict:
        """What a worker process gets: the data set but not the labelled copies (made again there
        from it) nor the boards, which only the opener writes."""
        state = self.__dict__.copy()
        state.update(_labelled={}, _boards=None)
        return state

    def _records_size(self) -> int:
        try:
            return self.store.path.stat().st_size
        except FileNotFoundError:
            return -1
