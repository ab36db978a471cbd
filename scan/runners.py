"""Where the work runs: worker processes on this machine, or actors on a Ray cluster.

Both yield results rows in order of completion; the caller writes them.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

from scan.inputs import Item
from scan.worker import ReadError, Scorer, ScanSettings, error_row, read_file

# an actor that crashes (a lost node, memory) is restarted this often, with its model loaded again ...
ACTOR_MAX_RESTARTS = 3
# ... and the batch it held is tried again once; an image that kills its worker twice becomes an error row
ACTOR_TASK_RETRIES = 1
IN_FLIGHT_PER_WORKER = 2  # local batches queued per worker process
MAX_REPLACED_ACTORS_PER_SLOT = 2  # actors dead for good are replaced; past this the cluster is not fit to scan

_process_scorer: Scorer | None = None  # a local worker process's model
_in_process: dict[str, Scorer] = {}  # --workers 1 scores in this process: each model folder loaded once


def _init_local_worker(settings: ScanSettings, threads: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops the workers
    global _process_scorer
    _process_scorer = Scorer(settings, threads)


def _score_local(batch: list[Item]) -> list[dict]:
    return [_process_scorer.row(item) for item in batch]


def _batches(items: Iterable[Item], size: int):
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def run_local(items: list[Item], settings: ScanSettings, workers: int, chunk: int,
              threads: int | None = None, in_process: bool | None = None) -> Iterator[dict]:
    """Score on this machine: `workers` processes, each with the model loaded once, the cores shared out.

    One worker scores in this process (in_process=False starts a process for it all the same). A worker
    that dies (out of memory) or cannot load the model stops the scan with BrokenProcessPool.
    """
    threads = threads or max(1, (os.cpu_count() or 1) // workers)
    if in_process is None:
        in_process = workers == 1
    if in_process:
        loaded = _in_process.get(settings.model_dir)
        scorer = Scorer(settings, threads, loaded.classifier if loaded else None)
        _in_process.setdefault(settings.model_dir, scorer)
        for item in items:
            yield scorer.row(item)
        return
    # spawn, not fork: TensorFlow must start in each worker, never be copied from a parent
    pool = ProcessPoolExecutor(workers, multiprocessing.get_context("spawn"), _init_local_worker, (settings, threads))
    batches = _batches(items, chunk)
    pending = set()
    try:
        while True:
            # IN_FLIGHT_PER_WORKER batches queued per worker: none idles, and a Ctrl-C loses little
            while len(pending) < workers * IN_FLIGHT_PER_WORKER and (batch := next(batches, None)) is not None:
                pending.add(pool.submit(_score_local, batch))
            if not pending:
                return
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield from future.result()
    finally:
        for future in pending:
            future.cancel()
        # Ctrl-C or an error: end the workers now rather than after their batches
        for process in list((pool._processes or {}).values()):
            process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)


class ScanActor:
    """A Ray actor on one CPU slot, holding the model."""

    def __init__(self, settings: ScanSettings):
        self.scorer = Scorer(settings, threads=1)

    def rows(self, chunk: list[tuple[Item, bytes | None]]) -> list[dict]:
        return self.scorer.rows(chunk)


def _chunks(items: Iterable[Item], settings: ScanSettings, size: int, unread: list[dict]):
    """Batches of (item, bytes) for the actors: files read here, so the other machines need no copy of them;
    URLs go as they are and are fetched where they are scored. Files that cannot be read go to `unread`."""
    batch = []
    for item in items:
        data = None
        if item.field == "path":
            try:
                data = read_file(item.location, settings.file_max_bytes)
            except ReadError as e:
                unread.append(error_row(item, str(e)))
                continue
        batch.append((item, data))
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def run_ray(items: list[Item], settings: ScanSettings, address: str | None, workers: int | None,
            chunk: int, log=print) -> Iterator[dict]:
    """Score on a Ray cluster (or a local Ray instance): one actor per CPU slot, a batch in flight per actor.

    Ray places the actors, restarts lost ones and retries their batch; at most
    one batch per actor is in flight, so files are read only as fast as they are scored.
    """
    import ray
    from ray.exceptions import RayActorError, RayError

    started_here = not ray.is_initialized()
    if started_here:
        os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")  # the scan uses no accelerators
        # address None: the cluster `ray start` runs on this machine, else a new local instance
        ray.init(address=address, logging_level=logging.WARNING)
    actors = []
    try:
        slots = int(ray.cluster_resources().get("CPU", 0))
        if slots < 1:
            raise RuntimeError("The Ray cluster has no CPU slots; start its nodes with `ray start`.")
        n = max(1, min(workers or slots, slots, -(-len(items) // chunk)))
        log(f"scan: {n} Ray actor(s) on {slots} CPU slot(s), batches of {chunk}")
        actor_class = ray.remote(num_cpus=1, max_restarts=ACTOR_MAX_RESTARTS,
                                 max_task_retries=ACTOR_TASK_RETRIES)(ScanActor)
        free = [actor_class.remote(settings) for _ in range(n)]
        actors.extend(free)
        replaced = 0
        in_flight = {}  # result ref -> (actor, batch)
        unread: list[dict] = []
        batches = _chunks(items, settings, chunk, unread)
        while True:
            while free and (batch := next(batches, None)) is not None:
                actor = free.pop()
                in_flight[actor.rows.remote(batch)] = (actor, batch)
            yield from unread
            unread.clear()
            if not in_flight:
                return
            (ref,), _ = ray.wait(list(in_flight), num_returns=1)
            actor, batch = in_flight.pop(ref)
            try:
                rows = ray.get(ref)
            except RayActorError as e:
                # restarts and the retry are spent: the batch's images become error rows, a fresh actor takes over
                rows = [error_row(item, f"The Ray worker scoring this image died ({type(e).__name__}); "
                                        "it may be too large for the worker's memory.") for item, _ in batch]
                replaced += 1
                if replaced > MAX_REPLACED_ACTORS_PER_SLOT * n:
                    raise RuntimeError("Ray workers keep dying; see the Ray logs (/tmp/ray/session_latest/logs).") from e
                actor = actor_class.remote(settings)
                actors.append(actor)
            except RayError as e:
                rows = [error_row(item, f"Scoring failed on Ray ({type(e).__name__}).") for item, _ in batch]
            free.append(actor)
            yield from rows
    finally:
        for actor in actors:
            ray.kill(actor)  # their models' memory goes back at once, even on a cluster that stays up
        if started_here:
            ray.shutdown()
