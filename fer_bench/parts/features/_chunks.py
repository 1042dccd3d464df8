"""Long extractions, chunk by chunk: computed in worker processes, each finished chunk stored in the
cache, so an interrupted extraction resumes from the chunks it finished."""

import collections
import functools
import multiprocessing
import os

import numpy as np
from tqdm import tqdm

from fer_bench.parts.cache import ArrayCache, cache_key

CHUNK = 256  # items per task and per stored part, at most
MIN_CHUNK = 16


def default_jobs():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def chunk_size(n_items):
    """Items per chunk: a function of the number of items alone, so stored parts stay valid on
    resume, and small enough that a small data set still spreads over every core."""
    return max(MIN_CHUNK, min(CHUNK, -(-n_items // 16)))


def cached_in_chunks(
    cache: ArrayCache, inputs: dict, items, work, finish, jobs=None, description="extracting", rows=None
):
    """{name: array over all `items`} (or over `items[rows]`), stored as one cache entry keyed by `inputs`.

    `work(chunk)` runs in `jobs` worker processes on consecutive chunks of `items` (it must pickle:
    a module-level function, or a functools.partial of one); `finish(result) -> {name: array}` runs
    in this process on each result as it arrives, and its arrays are stored as that chunk's part.
    A chunk is cut when it is handed to a worker: rows taken out of `items` are a copy, made a chunk
    at a time rather than for all of them at once.
    """
    key = cache_key(inputs)
    stored = cache.load(key)
    if stored is not None:
        return stored
    n_items = len(items) if rows is None else len(rows)
    size = chunk_size(n_items)
    starts = range(0, n_items, size)
    chunks = {i: cache.load_part(key, i) for i in range(len(starts))}
    todo = [(i, start) for i, start in enumerate(starts) if chunks[i] is None]
    lengths = {i: min(size, n_items - start) for i, start in todo}

    def cut(start):
        return items[start : start + size] if rows is None else items[rows[start : start + size]]

    tasks = ((i, cut(start)) for i, start in todo)
    with tqdm(
        total=n_items, initial=n_items - sum(lengths.values()), unit="img", desc=description, smoothing=0.05
    ) as bar:
        for index, result in _map(functools.partial(_indexed, work), tasks, len(todo), jobs or default_jobs()):
            chunks[index] = finish(result)
            cache.save_part(key, index, chunks[index])
            bar.update(lengths[index])
    arrays = {name: np.concatenate([chunks[i][name] for i in range(len(starts))]) for name in chunks[0]}
    cache.save(key, arrays, inputs)
    return arrays


def _indexed(work, task):
    index, chunk = task
    return index, work(chunk)


def _map(function, tasks, n_tasks, jobs):
    """`function` over the `n_tasks` `tasks` (an iterable, drawn as they are submitted) in `jobs`
    processes, in order, with at most two tasks per process in flight: results that wait for this
    process are bounded, so memory stays flat."""
    if jobs <= 1 or n_tasks <= 1:
        yield from map(function, tasks)
        return
    with multiprocessing.get_context("spawn").Pool(min(jobs, n_tasks)) as pool:
        pending = collections.deque()
        for task in tasks:
            pending.append(pool.apply_async(function, (task,)))
            if len(pending) >= 2 * jobs:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()
