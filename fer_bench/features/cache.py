"""On-disk cache of computed arrays, keyed by everything that produced them.

An entry is `<key>.npz` plus `<key>.json` (the key's inputs and the npz's sha256), both written to
a temporary name and renamed, so a reader sees a whole entry or none. Long computations store
chunks under `<key>.parts/` and resume from them.
"""

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np


def default_cache_dir() -> Path:
    if os.environ.get("FER_BENCH_CACHE"):
        return Path(os.environ["FER_BENCH_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fer-bench"


def cache_key(inputs: dict) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:24]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_atomic(path: Path, write):
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class ArrayCache:
    def __init__(self, root=None):
        self.root = Path(root) if root else default_cache_dir()

    def _paths(self, key):
        return self.root / f"{key}.npz", self.root / f"{key}.json"

    def load(self, key):
        """The arrays stored under `key`, or None if absent or damaged (a damaged entry is removed)."""
        data_path, meta_path = self._paths(key)
        if not (data_path.exists() and meta_path.exists()):
            return None
        try:
            meta = json.loads(meta_path.read_text())
            if meta["sha256"] != _sha256(data_path):
                raise ValueError("checksum mismatch")
            with np.load(data_path, allow_pickle=False) as stored:
                return {name: stored[name] for name in stored.files}
        except (ValueError, KeyError, OSError) as error:
            print(f"fer-bench: cache entry {data_path} is damaged ({error}); recomputing", file=sys.stderr)
            data_path.unlink(missing_ok=True)
            meta_path.unlink(missing_ok=True)
            return None

    def save(self, key, arrays: dict, inputs: dict):
        self.root.mkdir(parents=True, exist_ok=True)
        data_path, meta_path = self._paths(key)
        _write_atomic(data_path, lambda h: np.savez(h, **arrays))
        meta = {"key": key, "inputs": inputs, "sha256": _sha256(data_path)}
        _write_atomic(meta_path, lambda h: h.write(json.dumps(meta, indent=1).encode()))
        shutil.rmtree(self.parts_dir(key), ignore_errors=True)

    def parts_dir(self, key) -> Path:
        return self.root / f"{key}.parts"

    def load_part(self, key, index):
        path = self.parts_dir(key) / f"{index:06d}.npz"
        try:
            with np.load(path, allow_pickle=False) as stored:
                return {name: stored[name] for name in stored.files}
        except (OSError, ValueError):
            return None

    def save_part(self, key, index, arrays: dict):
        directory = self.parts_dir(key)
        directory.mkdir(parents=True, exist_ok=True)
        _write_atomic(directory / f"{index:06d}.npz", lambda h: np.savez(h, **arrays))

    def entries(self):
        """[(key, bytes, inputs or None)] of every complete entry, parts folders and checkpoints apart."""
        found = []
        for meta_path in sorted(self.root.glob("*.json")):
            data_path = meta_path.with_suffix(".npz")
            try:
                inputs = json.loads(meta_path.read_text()).get("inputs")
            except (OSError, ValueError):
                inputs = None
            size = data_path.stat().st_size if data_path.exists() else 0
            found.append((meta_path.stem, size, inputs))
        return found

    def clear(self):
        """Remove every entry, unfinished parts and training checkpoint; returns the bytes freed."""
        if not self.root.is_dir():
            return 0
        freed = sum(f.stat().st_size for f in self.root.rglob("*") if f.is_file())
        shutil.rmtree(self.root)
        return freed
