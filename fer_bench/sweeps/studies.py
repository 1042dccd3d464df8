"""Optuna behind one module: the studies that searches and shared grids keep in a storage.

This is the only module that uses Optuna's private API: a study driven trial by trial (ask/tell,
as several processes or machines share it) needs the heartbeat thread that `Study.optimize` uses
internally, a trial's storage id, its heartbeat row, and the system attribute that marks an
enqueued trial.
`tests/test_studies.py` exercises each of these against the installed Optuna, and pyproject.toml
admits only the major version they were checked with (TESTED_MAJOR).
"""

import os
import time
import warnings
from contextlib import contextmanager
from datetime import datetime, timedelta

import optuna
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback, fail_stale_trials
from optuna.storages._heartbeat import get_heartbeat_thread
from optuna.storages._rdb.models import TrialHeartbeatModel
from optuna.trial import TrialState
from sqlalchemy import event

from fer_bench.errors import FerBenchError

TESTED_MAJOR = 5
COUNTED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
Pruned = optuna.TrialPruned

optuna.logging.set_verbosity(optuna.logging.WARNING)
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")


def open_storage(storage_url: str) -> RDBStorage:
    """An RDB storage with heartbeats: a trial whose worker died is failed and queued again."""
    interval = int(os.environ.get("FER_BENCH_HEARTBEAT_S", "10"))
    sqlite = storage_url.startswith("sqlite")  # several processes: wait on the file lock, do not fail
    storage = RDBStorage(
        storage_url,
        heartbeat_interval=interval,
        grace_period=3 * interval,
        heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=2),
        engine_kwargs={"pool_pre_ping": True, **({"connect_args": {"timeout": 60}} if sqlite else {})},
    )
    if sqlite:
        _lock_before_reading(storage.engine)
    return storage


def _lock_before_reading(engine):
    """Make every SQLite transaction take the write lock when it begins.

    Optuna claims a waiting trial by reading its state and then writing RUNNING. pysqlite opens a
    transaction only at the first write, so two workers could both read "waiting" and both claim
    the same trial; with BEGIN IMMEDIATE the second waits for the first's commit and reads "running".
    (SQLAlchemy's documented recipe for serialisable SQLite transactions.)
    """

    @event.listens_for(engine, "connect")
    def _no_implicit_begin(dbapi_connection, _):
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()  # connections opened while Optuna created the tables lack the listeners


def create_or_load(study_name, storage_url, attempts=5, **options) -> optuna.Study:
    """Create the study, or load it: whichever worker comes first creates the tables and the study."""
    attempt = 1
    while True:  # until it returns, or raises once a failure is no race or the last attempt failed
        try:
            storage = open_storage(storage_url)
            return optuna.create_study(study_name=study_name, storage=storage, load_if_exists=True, **options)
        except Exception as error:  # noqa: BLE001 - any driver or connection error: one line
            racing = isinstance(error, optuna.exceptions.DuplicatedStudyError) or any(
                sign in repr(error) for sign in ("IntegrityError", "already exists", "database is locked")
            )
            if racing and attempt < attempts:  # two workers created the tables or the study at once
                time.sleep(0.5 * attempt)
                attempt += 1
                continue
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise FerBenchError(f"storage {redacted(storage_url)} cannot be opened: {reason}") from None


def search_study(study_name, storage_url, sampler_seed) -> optuna.Study:
    """A maximising study with TPE sampling and a median pruner (Keras trials report each epoch)."""
    return create_or_load(
        study_name,
        storage_url,
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=sampler_seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=5),
    )


def redacted(url):
    """A storage URL without its password."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    return f"{scheme}://{credentials.split(':')[0]}:***@{host}"


def trials(study, *states):
    return study.get_trials(deepcopy=False, states=states or None)


def counted(study):
    """Trials that use up the budget: complete, pruned, running in some worker, or failed with an
    error (so a search whose trials all fail ends). A trial failed because its worker died is not:
    it is queued again."""
    return [t for t in trials(study) if t.state in COUNTED or (t.state == TrialState.FAIL and "error" in t.user_attrs)]


def fail_stale(study):
    """Fail (and queue again) the running trials whose worker stopped sending heartbeats, or died
    after `ask` created its trial and before its first heartbeat: Optuna never finds a trial with no
    heartbeat stale, so that one would hold a place in the budget for ever."""
    fail_stale_trials(study)
    storage = study._storage
    rdb = storage._backend  # the RDBStorage behind Optuna's cache: its grace period and heartbeat rows
    started_before = datetime.now() - timedelta(seconds=rdb.grace_period)  # trial starts are local times
    for trial in trials(study, TrialState.RUNNING):
        if trial.datetime_start < started_before and not _has_heartbeat(rdb, trial._trial_id):
            try:
                storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
            except optuna.exceptions.UpdateFinishedTrialError:
                continue  # another worker failed it first, and queued it again
            storage.get_heartbeat_stale_trial_callback()(study, storage.get_trial(trial._trial_id))


def _has_heartbeat(rdb, trial_id):
    session = rdb.scoped_session()
    try:
        return session.query(TrialHeartbeatModel).filter_by(trial_id=trial_id).count() > 0
    finally:
        session.close()


def ask(study, sampler_seed=None):
    """The next trial, its first heartbeat recorded at once (a trial never beaten never goes stale,
    so its dead worker would hold a place in the budget for ever). With `sampler_seed`, it is sampled
    by TPE seeded with `sampler_seed` + its number: workers here or on other machines never sample
    alike, and one worker repeats itself."""
    trial = study.ask()
    study._storage.record_heartbeat(trial._trial_id)
    if sampler_seed is not None:
        study.sampler = optuna.samplers.TPESampler(seed=sampler_seed + trial.number)
    return trial


@contextmanager
def heartbeat(study, trial):
    """Send the trial's heartbeats from a thread while the block runs, as `Study.optimize` does."""
    with get_heartbeat_thread(trial._trial_id, study._storage):
        yield


def was_enqueued(study, trial):
    """Whether `ask` gave a trial that `enqueue_trial` queued (else the queue was empty)."""
    return "fixed_params" in study._storage.get_trial_system_attrs(trial._trial_id)


def first_live_trial(study, name, value):
    """The number of the earliest trial, not failed, whose parameter `name` is (or is queued to be)
    `value`. Two workers may queue the same cell: the earlier copy is the one that runs, and since it
    was queued before the later copy, whoever claims the later copy sees it and stands down."""
    live = [
        t.number
        for t in trials(study)
        if t.state != TrialState.FAIL and {**t.system_attrs.get("fixed_params", {}), **t.params}.get(name) == value
    ]
    return min(live, default=None)


def complete(study, trial, value):
    study.tell(trial, value)


def fail(study, trial):
    study.tell(trial, state=TrialState.FAIL)


def prune(study, trial):
    study.tell(trial, state=TrialState.PRUNED)


def best_complete(study):
    """The complete trial with the highest value (the earliest of equals), or None."""
    done = trials(study, TrialState.COMPLETE)
    return max(done, key=lambda t: (t.value, -t.number)) if done else None


def fixed_trial(params, number):
    """A trial object that suggests exactly `params`: a finished trial's values, replayed."""
    return optuna.trial.FixedTrial(params, number)


def importances(study) -> dict:
    """{parameter: importance} of the complete trials, by Optuna's default evaluator."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "importances will be equal" when the trials cannot tell them apart
        return optuna.importance.get_param_importances(study)
