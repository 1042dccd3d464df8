"""On-disk cache of computed arrays, keyed by everything that produced them.

An entry is `<key>.npz` plus `<key>.json`, which holds the key, its inputs and the npz's sha256. Both
are written under temporary names and fsynced, then renamed together under the cache's lock (an
flock on `.lock`, which readers take too), so a reader sees a whole entry or none. An entry that does
not check out (truncated or altered data, half of it missing, another entry's metadata) is reported
once, removed and recomputed. An entry kept in one place for a changing input (the decoded images of
a data folder) is loaded with the inputs it must have been made from: one made from others is stale,
and is reported and recomputed the same way. Long computations store chunks under `<key>.parts/` and
resume from them.
"""

import fcntl
import hashlib
import io
import json
import logging
import os
import shutil
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

LOCK_FILE = ".lock"
log = logging.getLogger("fer_bench")


def default_cache_dir() -> Path:
    if os.environ.get("FER_BENCH_CACHE"):
        return Path(os.environ["FER_BENCH_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fer-bench"


def cache_key(inputs: dict) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:24]


def _write_temporary(path: Path, write) -> Path:
    """Write a file beside `path` under a temporary name (never read as an entry), fsynced; returns its path."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())
    return tmp


class DamagedEntry(Exception):
    """What is wrong with a cache entry."""


class StaleEntry(DamagedEntry):
    """A whole entry made from other inputs than those asked for."""


@dataclass(frozen=True)
class CacheEntry:
    key: str
    size: int  # bytes of the data file
    inputs: dict | None  # None where the metadata cannot be read
    problem: str | None  # why the entry would be recomputed, or None if it checks out


class ArrayCache:
    def __init__(self, root=None):
        self.root = Path(root) if root else default_cache_dir()

    def _paths(self, key):
        return self.root / f"{key}.npz", self.root / f"{key}.json"

    @contextmanager
    def _locked(self):
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.root / LOCK_FILE, os.O_RDONLY | os.O_CREAT, 0o644)
        except OSError:
            fd = None  # a cache this process cannot write to: read it without the lock
        try:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)  # released on close, or when this process dies
            yield
        finally:
            if fd is not None:
                os.close(fd)

    def load(self, key, inputs=None):
        """The arrays stored under `key`, or None if absent, damaged or, given `inputs`, made from
        others (stale); a damaged or stale entry is reported and removed."""
        data_path, meta_path = self._paths(key)
        if not (data_path.exists() or meta_path.exists()):
            return None
        with self._locked():
            try:
                with np.load(io.BytesIO(self._verified_data(key, inputs)), allow_pickle=False) as stored:
                    return {name: stored[name] for name in stored.files}
            except DamagedEntry as error:
                state = "stale" if isinstance(error, StaleEntry) else "damaged"
                log.warning(f"cache entry {data_path} is {state} ({error}); recomputing")
                data_path.unlink(missing_ok=True)
                meta_path.unlink(missing_ok=True)
                return None

    def _verified_data(self, key, inputs=None) -> bytes:
        """The npz bytes of entry `key`, checked against its metadata (and `inputs`, if given);
        raises DamagedEntry, or StaleEntry."""
        data_path, meta_path = self._paths(key)
        if not meta_path.exists():
            raise DamagedEntry("its metadata file is missing")
        if not data_path.exists():
            raise DamagedEntry("its data file is missing")
        meta = _read_metadata(meta_path)
        if meta is None:
            raise DamagedEntry("its metadata is unreadable")
        if meta.get("key") != key:
            raise DamagedEntry(f"its metadata belongs to entry {meta.get('key')!r}")
        if inputs is not None:
            expected, stored = json.loads(json.dumps(inputs)), meta.get("inputs")  # as stored: lists, not tuples
            stored = stored if isinstance(stored, dict) else {}
            changed = sorted(name for name in expected.keys() | stored.keys() if expected.get(name) != stored.get(name))
            if changed:
                raise StaleEntry(f"made from other {', '.join(changed)}")
        data = data_path.read_bytes()
        if hashlib.sha256(data).hexdigest() != meta.get("sha256"):
            raise DamagedEntry("checksum mismatch: the data was truncated or altered")
        return data

    def save(self, key, arrays: dict, inputs: dict):
        self.root.mkdir(parents=True, exist_ok=True)
        data_path, meta_path = self._paths(key)
        data_tmp = _write_temporary(data_path, lambda h: np.savez(h, **arrays))
        meta = {"key": key, "inputs": inputs, "sha256": hashlib.sha256(data_tmp.read_bytes()).hexdigest()}
        meta_tmp = _write_temporary(meta_path, lambda h: h.write(json.dumps(meta, indent=1).encode()))
        with self._locked():
            os.replace(data_tmp, data_path)
            os.replace(meta_tmp, meta_path)
        shutil.rmtree(self.parts_dir(key), ignore_errors=True)

    def parts_dir(self, key) -> Path:
        return self.root / f"{key}.parts"

    def load_part(self, key, index):
        """A stored chunk, or None if it is not there or fails its zip checksums."""
        path = self.parts_dir(key) / f"{index:06d}.npz"
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        if not _is_whole_zip(data):
            log.warning(f"cache part {path} is damaged; recomputing it")
            return None
        with np.load(io.BytesIO(data), allow_pickle=False) as stored:
            return {name: stored[name] for name in stored.files}

    def save_part(self, key, index, arrays: dict):
        directory = self.parts_dir(key)
        directory.mkdir(parents=True, exist_ok=True)
        try:
            tmp = _write_temporary(directory / f"{index:06d}.npz", lambda h: np.savez(h, **arrays))
            os.replace(tmp, directory / f"{index:06d}.npz")
        except FileNotFoundError:
            pass  # another process completed the entry and removed its parts: this one is not needed

    def entries(self):
        """Every entry, whole or not (parts folders, temporary files and checkpoints apart), checked."""
        keys = sorted({path.stem for pattern in ("*.npz", "*.json") for path in self.root.glob(pattern)})
        if not keys:
            return []
        found = []
        with self._locked():
            for key in keys:
                data_path, meta_path = self._paths(key)
                try:
                    self._verified_data(key)
                    problem = None
                except DamagedEntry as error:
                    problem = str(error)
                meta = _read_metadata(meta_path) or {}
                size = data_path.stat().st_size if data_path.exists() else 0
                found.append(CacheEntry(key, size, meta.get("inputs"), problem))
        return found

    def clear(self):
        """Remove every entry, unfinished parts and training checkpoint; returns the bytes freed."""
        if not self.root.is_dir():
            return 0
        freed = sum(f.stat().st_size for f in self.root.rglob("*") if f.is_file())
        shutil.rmtree(self.root)
        return freed


def _read_metadata(meta_path):
    try:
        meta = json.loads(meta_path.read_bytes())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def _is_whole_zip(data: bytes):
    """Whether `data` is a zip (an npz) whose every member passes its CRC."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return archive.testzip() is None
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return False
