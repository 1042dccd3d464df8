"""Optuna searches (`experiments/searches/NAME.toml`): tune on Training only, then one recorded run.

description = "..."
base = "svm"                  # the experiment whose parts are tuned
metric = "accuracy_all"       # on validation images: accuracy_all (uncovered count as wrong) or accuracy
validation = "holdout"        # a stratified share of Training (`holdout`), or `kfold` with `folds`
holdout = 0.2
sampler_seed = 0
[space.model]                 # parameters to tune: `true` takes the part's declared range,
C = {low = 1.0, high = 300.0} # a table narrows it
gamma = true
[space.resampler]
name = {choices = ["none", "smote"]}   # a part's name can be a choice too

PublicTest and PrivateTest are sealed: the objective is built from the Training rows' features and
labels alone (`TrainingRows`); the test splits are only ever seen by the final, ordinary run.
"""

import multiprocessing
import os
import socket
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from fer_bench import registry
from fer_bench.data.dataset import TRAIN_SPLIT
from fer_bench.errors import FerBenchError
from fer_bench.experiments import (
    MAX_SEED,
    Experiment,
    PartSpec,
    check_keys,
    find_file,
    is_seed,
    load_base,
    read_toml,
)
from fer_bench.runner import log
from fer_bench.workers import quiet_worker

SEARCH_KEYS = {"description", "base", "metric", "validation", "holdout", "folds", "sampler_seed", "space", "trials"}
METRICS = ("accuracy_all", "accuracy")
SEARCHES_DIR = "searches"
COUNTED = ("COMPLETE", "PRUNED", "RUNNING")


@dataclass(frozen=True)
class Search:
    name: str
    description: str
    base: Experiment
    space: dict  # (kind, param) -> {"low", "high", "log"} | {"choices"}
    metric: str
    validation: str
    holdout: float
    folds: int
    sampler_seed: int
    trials: int


def load_search(name_or_path) -> Search:
    path = find_file(name_or_path, "search", "searches")
    return parse_search(path.stem, read_toml(path), str(path))


def parse_search(name, document, where) -> Search:
    check_keys(document, SEARCH_KEYS, where)
    base = load_base(document, where)
    metric = document.get("metric", "accuracy_all")
    validation = document.get("validation", "holdout")
    holdout, folds = document.get("holdout", 0.2), document.get("folds", 3)
    if metric not in METRICS:
        raise FerBenchError(f"{where}: metric must be one of {list(METRICS)}, got {metric!r}")
    if validation not in ("holdout", "kfold"):
        raise FerBenchError(f"{where}: validation must be 'holdout' or 'kfold', got {validation!r}")
    if not isinstance(holdout, float) or not 0 < holdout < 1 or type(folds) is not int or folds < 2:
        raise FerBenchError(f"{where}: need 0 < holdout < 1 and folds >= 2")
    space = _parse_space(base, document.get("space"), where)
    seed, trials = document.get("sampler_seed", 0), document.get("trials", 20)
    if not is_seed(seed) or type(trials) is not int or trials < 1:
        raise FerBenchError(f"{where}: sampler_seed must be an integer in 0..{MAX_SEED} and trials an integer >= 1")
    description = document.get("description", "")
    if not isinstance(description, str):
        raise FerBenchError(f"{where}: description must be a string")
    return Search(name, description, base, space, metric, validation, holdout, folds, seed, trials)


def _parse_space(base, tables, where):
    if not isinstance(tables, dict) or not tables:
        raise FerBenchError(f"{where}: needs a [space.<kind>] table of parameters to tune")
    space = {}
    for kind, table in tables.items():
        if kind not in registry.KINDS or not isinstance(table, dict):
            raise FerBenchError(f"{where}: [space.{kind}]: kind must be one of {list(registry.KINDS)}")
        part = registry.get(kind, getattr(base, kind).name)
        for param, spec in table.items():
            context = f"{where}: space.{kind}.{param}"
            if param == "name":
                space[(kind, param)] = _part_choices(kind, spec, context)
                continue
            declared = part.search_space.get(param)
            if declared is None:
                tunable = ", ".join(part.search_space) or "none"
                raise FerBenchError(f"{context}: {part.key} does not declare it tunable (tunable: {tunable})")
            if spec is True:
                space[(kind, param)] = dict(declared)
            elif isinstance(spec, dict):
                narrow = _narrow_choices if "choices" in declared else _narrow_range
                condition = {"when": declared["when"]} if "when" in declared else {}
                space[(kind, param)] = {**narrow(declared, spec, context), **condition}
            else:
                raise FerBenchError(f"{context}: use true, {{low = .., high = ..}} or {{choices = [..]}}")
            if kind == "features" and "choices" not in space[(kind, param)]:
                raise FerBenchError(f"{context}: features parameters are tuned over choices only")
    if not space:
        raise FerBenchError(f"{where}: [space.<kind>] tables name no parameter to tune")
    return space


def _part_choices(kind, spec, context):
    choices = spec.get("choices") if isinstance(spec, dict) and set(spec) == {"choices"} else None
    if not isinstance(choices, list) or not choices or not all(isinstance(c, str) for c in choices):
        raise FerBenchError(f'{context}: a part\'s name is tuned with {{choices = ["name", ...]}}')
    for choice in choices:
        try:
            registry.get(kind, choice)
        except FerBenchError as error:
            raise FerBenchError(f"{context}: {error}") from None
    return {"choices": choices}


def _narrow_choices(declared, spec, context):
    choices = spec.get("choices", declared["choices"]) if set(spec) <= {"choices"} else None
    allowed = [(type(c), c) for c in declared["choices"]]  # 64.0 is not the batch size 64
    if not isinstance(choices, list) or not choices or not all((type(c), c) in allowed for c in choices):
        raise FerBenchError(f"{context}: use {{choices = [..]}} drawn from {declared['choices']}")
    return {"choices": choices}


def _narrow_range(declared, spec, context):
    """`{low, high, log}` within the declared range; an integer range stays integer, a float range float."""
    if not set(spec) <= {"low", "high", "log"}:
        raise FerBenchError(f"{context}: a range parameter is tuned with {{low = .., high = .., log = ..}}")
    integer = type(declared["low"]) is int
    low, high = spec.get("low", declared["low"]), spec.get("high", declared["high"])
    log = spec.get("log", declared.get("log", False))
    numbers = (int,) if integer else (int, float)
    if not all(isinstance(v, numbers) and not isinstance(v, bool) for v in (low, high)) or type(log) is not bool:
        kind = "integers" if integer else "numbers"
        raise FerBenchError(f"{context}: low and high must be {kind} and log true or false")
    if not declared["low"] <= low < high <= declared["high"]:
        allowed = f"[{declared['low']}, {declared['high']}]"
        raise FerBenchError(f"{context}: range must lie within {allowed}, got [{low}, {high}]")
    if log and low <= 0:
        raise FerBenchError(f"{context}: a log range needs low > 0, got {low}")
    bounds = (low, high) if integer else (float(low), float(high))
    return {"low": bounds[0], "high": bounds[1], "log": log}


def _applies(spec, current):
    """A parameter declared with `when = {other: value or [values]}` is tuned only where that holds."""
    for other, wanted in spec.get("when", {}).items():
        if current.get(other) not in (wanted if isinstance(wanted, list) else [wanted]):
            return False
    return True


# --- the objective: Training rows only ---------------------------------------------------------------


class TrainingRows:
    """The only data an objective gets: the Training rows' features and labels, as arrays.

    Every features variant the search can ask for is extracted up front (from the cache) and cut
    to the Training rows here; no reference to the data set is kept, so nothing an objective does
    can reach PublicTest or PrivateTest.
    """

    def __init__(self, dataset, cache, variants):
        train = dataset.indices(TRAIN_SPLIT)
        self.labels = dataset.labels[train]
        self._features = {}
        for spec in variants:
            feature_set = spec.create("features").extract(dataset, cache=cache)
            self._features[_key(spec)] = (feature_set.X[train], feature_set.covered[train])

    def features(self, spec: PartSpec):
        return self._features[_key(spec)]


def _key(spec):
    return spec.name, tuple(sorted(spec.params.items()))


def feature_variants(search: Search):
    """Every features spec a trial can produce (loading the search checked that features parameters
    are tuned over choices only)."""
    import itertools

    tuned = {param: spec for (kind, param), spec in search.space.items() if kind == "features"}
    base = search.base.features
    variants = []
    for values in itertools.product(*(spec["choices"] for spec in tuned.values())):
        chosen = dict(zip(tuned, values))
        name = chosen.pop("name", base.name)
        part = registry.get("features", name)
        params = {**(base.params if name == base.name else {}), **chosen}
        variants.append(PartSpec(name, part.resolve({k: v for k, v in params.items() if k in part.param_names})))
    return variants


def suggest(trial, search: Search) -> Experiment:
    """The base experiment with the trial's values; a part whose name changes starts from its defaults."""
    chosen = {kind: {} for kind in registry.KINDS}
    for (kind, param), spec in search.space.items():
        if not _applies(spec, {**getattr(search.base, kind).params, **chosen[kind]}):
            continue
        label = f"{kind}.{param}"
        if "choices" in spec:
            value = trial.suggest_categorical(label, spec["choices"])
        elif isinstance(spec["low"], int) and isinstance(spec["high"], int):
            value = trial.suggest_int(label, spec["low"], spec["high"], log=spec.get("log", False))
        else:
            value = trial.suggest_float(label, float(spec["low"]), float(spec["high"]), log=spec.get("log", False))
        chosen[kind][param] = value
    parts = {}
    for kind in registry.KINDS:
        base_part = getattr(search.base, kind)
        values = dict(chosen[kind])
        name = values.pop("name", base_part.name)
        params = {**(base_part.params if name == base_part.name else {}), **values}
        part = registry.get(kind, name)
        parts[kind] = PartSpec(name, part.resolve({k: v for k, v in params.items() if k in part.param_names}))
    return replace(search.base, name=search.name, description=search.description or search.base.description, **parts)


def validation_score(experiment: Experiment, rows: TrainingRows, search: Search, seed, report=None):
    """Mean validation metric of `experiment` over the hold-out or the k folds of Training."""
    from sklearn.model_selection import StratifiedKFold, train_test_split

    X, covered = rows.features(experiment.features)
    y = rows.labels
    everything = np.arange(len(y))
    if search.validation == "holdout":
        fit, held = train_test_split(everything, test_size=search.holdout, stratify=y, random_state=seed)
        splits = [(fit, held)]
    else:
        splits = list(StratifiedKFold(search.folds, shuffle=True, random_state=seed).split(everything, y))
    scores = []
    for fit, held in splits:
        model = experiment.model.create("model")
        if report is not None and hasattr(model, "epoch_callback"):
            model.epoch_callback = report
        fit = fit[covered[fit]]
        model.fit(X[fit], y[fit], experiment.resampler.create("resampler"), seed)
        evaluated = held[covered[held]]
        hits = (model.predict_proba(X[evaluated]).argmax(axis=1) == y[evaluated]).sum() if len(evaluated) else 0
        denominator = len(held) if search.metric == "accuracy_all" else max(len(evaluated), 1)
        scores.append(hits / denominator)
    return float(np.mean(scores))


def objective_for(search: Search, rows: TrainingRows):
    import optuna

    def objective(trial):
        experiment = suggest(trial, search)

        def report(epoch, logs):
            if "val_accuracy" in (logs or {}):
                trial.report(float(logs["val_accuracy"]), epoch)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"pruned at epoch {epoch + 1}")

        return validation_score(experiment, rows, search, search.base.seed, report)

    return objective


# --- studies: storage, workers, the trial budget -----------------------------------------------------


def default_storage(results_root: Path, search: Search) -> str:
    path = results_root / SEARCHES_DIR / f"{search.name}.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def open_storage(storage_url: str):
    """An optuna RDB storage with heartbeats: a trial whose worker died is failed and queued again."""
    import optuna
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    interval = int(os.environ.get("FER_BENCH_HEARTBEAT_S", "10"))
    sqlite = storage_url.startswith("sqlite")  # several processes: wait on the file lock, do not fail
    return RDBStorage(
        storage_url,
        heartbeat_interval=interval,
        grace_period=3 * interval,
        heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=2),
        engine_kwargs={"pool_pre_ping": True, **({"connect_args": {"timeout": 60}} if sqlite else {})},
    )


def open_study(search: Search, storage_url: str):
    """The search's study in `storage_url`."""
    import optuna

    return create_or_load(
        search.name,
        storage_url,
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=search.sampler_seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=5),
    )


def create_or_load(study_name, storage_url, attempts=5, **options):
    """Create the study, or load it: whichever worker comes first creates the tables and the study."""
    import optuna

    for attempt in range(attempts):
        try:
            storage = open_storage(storage_url)
            return optuna.create_study(study_name=study_name, storage=storage, load_if_exists=True, **options)
        except Exception as error:  # noqa: BLE001 - any driver or connection error: one line
            racing = isinstance(error, optuna.exceptions.DuplicatedStudyError) or any(
                sign in repr(error) for sign in ("IntegrityError", "already exists", "database is locked")
            )
            if racing and attempt < attempts - 1:  # two workers created the tables or the study at once
                time.sleep(0.5 * (attempt + 1))
                continue
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise FerBenchError(f"storage {redacted(storage_url)} cannot be opened: {reason}") from None


def redacted(url):
    """A storage URL without its password."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    return f"{scheme}://{credentials.split(':')[0]}:***@{host}"


def counted_trials(study):
    return sum(t.state.name in COUNTED for t in study.get_trials(deepcopy=False))


def work(search: Search, storage_url: str, n_trials: int, rows: TrainingRows):
    """Run trials until the study holds `n_trials` complete, pruned or running ones.

    Trial numbers come from the storage, so two workers never run the same trial; a worker that
    finds the budget taken by the time its trial is created marks that trial `surplus` (failed,
    never run) rather than overshoot. Each trial samples with the search's seed plus its number, so
    workers (here or on other machines) never sample alike and one worker repeats itself. A running
    trial sends heartbeats; one whose worker died is
    failed once its heartbeat is stale and queued again (at most twice).
    """
    import optuna
    from optuna.storages import fail_stale_trials
    from optuna.storages._heartbeat import get_heartbeat_thread  # what Study.optimize uses; ask/tell needs it too

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = open_study(search, storage_url)
    objective = objective_for(search, rows)
    ran = 0
    while True:
        fail_stale_trials(study)
        if counted_trials(study) >= n_trials:
            break
        trial = study.ask()
        study._storage.record_heartbeat(trial._trial_id)  # at once: a trial never beaten never goes stale
        # seeded by trial number: workers never sample alike, and one worker repeats itself
        study.sampler = optuna.samplers.TPESampler(seed=search.sampler_seed + trial.number)
        ahead = [t for t in study.get_trials(deepcopy=False) if t.number < trial.number and t.state.name in COUNTED]
        if len(ahead) >= n_trials:
            trial.set_user_attr("surplus", True)
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            break
        try:
            with get_heartbeat_thread(trial._trial_id, study._storage):
                trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
                value = objective(trial)
        except optuna.TrialPruned:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            log(f"trial {trial.number} pruned")
        except Exception as error:  # noqa: BLE001 - a failing trial is recorded as failed; the study goes on
            trial.set_user_attr("error", f"{type(error).__name__}: {error}")
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            log(f"trial {trial.number} failed: {type(error).__name__}: {error}")
        else:
            study.tell(trial, value)
            log(f"trial {trial.number}: {search.metric} {100 * value:.2f}% on validation ({_params_text(trial)})")
        ran += 1
    return ran


def _params_text(trial):
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in trial.params.items())


def run_workers(search, storage_url, n_trials, rows: TrainingRows, workers):
    """`workers` processes on this machine share the study, as `fer-bench tune` on other machines can."""
    if workers <= 1:
        return work(search, storage_url, n_trials, rows)
    with multiprocessing.get_context("spawn").Pool(workers, initializer=quiet_worker) as pool:
        return sum(pool.starmap(work, [(search, storage_url, n_trials, rows)] * workers))


def best_experiment(search, study):
    import optuna

    completed = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
    if not completed:
        raise FerBenchError(f"search {search.name}: no trial completed, so there is nothing to evaluate")
    best = max(completed, key=lambda t: (t.value, -t.number))
    return best, suggest(optuna.trial.FixedTrial(best.params, best.number), search)
