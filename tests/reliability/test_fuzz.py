"""Fuzzed input files: each loads into something well-formed or fails with a one-line FerBenchError naming the file."""

import json
import math
import tempfile
import tomllib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from fer_bench.data import FER2013_CLASSES, SPLITS, load_dataset
from fer_bench.errors import FerBenchError
from fer_bench.parts import registry
from fer_bench.specs.experiment import MAX_SEED, PartSpec, load_experiment
from fer_bench.specs.grid import load_grid
from fer_bench.specs.search import load_search

FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
N_PIXELS = 48 * 48
RARELY = st.sampled_from([False] * 9 + [True])  # a plain st.integers(0, 9) == 0 comes up far more often
USUALLY = RARELY.map(lambda rare: not rare)


def assert_refused_in_one_line(error, path):
    event("refused")  # shown by --hypothesis-show-statistics, with "loaded"
    message = str(error)
    assert "\n" not in message and "\r" not in message, message
    assert str(path) in message, message


# --- the Kaggle csv ----------------------------------------------------------------------------------

TEXT = st.text(st.characters(codec="utf-8"), max_size=12)


@st.composite
def pixel_fields(draw):
    """2,304 valid values, or a mutation: a wrong count, a non-number, a value out of 0..255."""
    offset = draw(st.integers(0, 255))
    values = [str((offset + i) % 256) for i in range(N_PIXELS)]
    mutation = draw(st.sampled_from(["none"] * 12 + ["drop", "add", "replace"]))
    index = draw(st.integers(0, N_PIXELS - 1))
    if mutation == "drop":
        del values[index:]
    elif mutation == "add":
        values += draw(st.lists(st.integers(0, 255).map(str), min_size=1, max_size=3))
    elif mutation == "replace":
        values[index] = draw(st.one_of(TEXT, st.integers(-(10**30), 10**30).map(str)))
    return " ".join(values)


LABELS = st.one_of(*[st.integers(0, 6).map(str)] * 3, st.integers(-3, 10).map(str), TEXT)
USAGES = st.one_of(*[st.sampled_from(SPLITS)] * 3, TEXT)


@st.composite
def csv_rows(draw):
    fields = [draw(LABELS), draw(pixel_fields()), draw(USAGES)]
    shape = draw(st.sampled_from(["row"] * 6 + ["fewer", "more", "garbage"]))
    if shape == "fewer":
        fields.pop()
    elif shape == "more":
        fields.append(draw(TEXT))
    elif shape == "garbage":
        return draw(TEXT)
    return ",".join(f'"{field}"' if "," in field or '"' in field else field for field in fields)


@st.composite
def csv_files(draw):
    header = draw(st.sampled_from(["emotion,pixels,Usage", "emotion,Usage,pixels"] * 4 + ["emotion,pixels", "x"]))
    valid = [f"{label},{' '.join(['5'] * N_PIXELS)},{usage}" for label, usage in ((0, "Training"), (3, "PublicTest"))]
    rows = valid if draw(st.booleans()) else []
    rows += draw(st.lists(csv_rows(), max_size=6))
    text = "\n".join([header, *rows]).encode()
    if draw(RARELY):
        text = draw(st.binary(max_size=64)) + text[draw(st.integers(0, len(text))) :]
    return b"" if draw(RARELY) else text


@FUZZ
@given(content=csv_files())
def test_a_fuzzed_csv_loads_well_formed_or_is_refused_in_one_line(content):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fer2013.csv"
        path.write_bytes(content)
        try:
            dataset = load_dataset(path)
        except FerBenchError as error:
            assert_refused_in_one_line(error, path)
            return
    event("loaded")
    n = len(dataset)
    assert dataset.images.dtype == np.uint8 and dataset.images.shape == (n, 48, 48)
    assert set(dataset.labels.tolist()) <= set(range(len(FER2013_CLASSES)))
    assert set(dataset.splits.tolist()) <= set(SPLITS) and "Training" in dataset.splits
    assert len(set(dataset.splits.tolist())) > 1  # something to test on


# --- experiment, grid and search files ---------------------------------------------------------------

PART_NAMES = {kind: [part.name for part in registry.parts(kind)] for kind in registry.KINDS}
PARAM_NAMES = sorted({p.name for part in registry.parts() for p in part.params})
KEY_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=8)
SCALARS = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from([0, 1, 3, 2**32, -1]),
    st.floats(allow_nan=False),
    st.sampled_from([0.0, 0.5, 1.0, 1e-9, 10.0, -1.0]),
    KEY_TEXT,
    st.sampled_from(["rbf", "detector", "full", "scale", "0.01", "Training", "PrivateTest", "PublicTest"]),
)
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=3))


def toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON's escapes are TOML's
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{toml_value(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def to_toml(document):
    return "".join(f"{toml_value(key)} = {toml_value(value)}\n" for key, value in document.items())


def mostly(plausible):
    """Three times in four a plausible value, else any scalar at all."""
    return st.one_of(plausible, plausible, plausible, SCALARS)


def plausible_values(param):
    """Values of the parameter's own type, mostly in range."""
    return {
        bool: st.booleans(),
        int: st.integers(0, 300),
        float: st.floats(0.0, 0.99),
        str: st.sampled_from(param.choices or ("scale", "0.01", "x")),
        tuple: st.lists(
            st.one_of(KEY_TEXT, st.text("0123456789abcdef", min_size=12, max_size=12), st.floats(-1.0, 2.0)), max_size=3
        ),
        # a nested part's parameters (cross-fitted's inner_params)
        dict: st.dictionaries(
            KEY_TEXT, st.one_of(st.integers(0, 300), st.floats(0.0, 0.99), st.booleans()), max_size=3
        ),
    }[type(param.default)]


@st.composite
def part_tables(draw, kind):
    """A part's table: mostly a known part with its own parameters, sometimes a stray name or value."""
    part = draw(st.sampled_from(registry.parts(kind)))
    table = {"name": part.name} if draw(USUALLY) else {}
    for param in draw(st.lists(st.sampled_from(part.params), max_size=3)) if part.params else []:
        table[param.name] = draw(mostly(plausible_values(param)))
    if draw(RARELY):
        table[draw(st.one_of(st.sampled_from(["name", *PARAM_NAMES]), KEY_TEXT))] = draw(SCALARS)
    return table


@st.composite
def experiment_documents(draw):
    document = {kind: draw(part_tables(kind)) for kind in registry.KINDS if draw(USUALLY)}
    extras = {
        "seed": mostly(st.integers(0, 2**33)),
        "description": mostly(KEY_TEXT),
        "test_splits": mostly(st.lists(st.sampled_from(SPLITS), min_size=1, max_size=2)),
        "modell": SCALARS,
    }
    for key, values in extras.items():
        if draw(RARELY):
            document[key] = draw(values)
    return document


@st.composite
def grid_documents(draw):
    """Products over the `base` experiment's parts (pixels -> none -> svm), a value or a list per key."""
    product = {}
    for kind in draw(st.lists(st.sampled_from([*registry.KINDS, "loss"]), min_size=1, max_size=2)):
        table = draw(part_tables(kind)) if kind != "loss" else {"name": "x"}
        product[kind] = {key: [value] if draw(st.booleans()) else value for key, value in table.items()}
    if draw(RARELY):
        product["axis"] = draw(mostly(KEY_TEXT))
    document = {"base": draw(st.sampled_from(["base", "base", "base", "missing"])), "product": [product]}
    if draw(USUALLY):
        document["choose"] = draw(mostly(choice_rules(["PublicTest", "holdout"])))
    if draw(RARELY):
        document["seeds"] = draw(mostly(st.lists(st.integers(0, 9), min_size=1, max_size=3)))
    if draw(RARELY):
        document["description"] = draw(mostly(KEY_TEXT))
    return document


SPACE_SPECS = st.one_of(
    st.just(True),
    st.fixed_dictionaries({"low": st.floats(0.01, 2000.0), "high": st.floats(0.01, 2000.0)}, optional={"log": VALUES}),
    st.fixed_dictionaries({"choices": st.lists(st.sampled_from(["rbf", "poly", "scale", "0.01", "svm", "knn"]))}),
    st.dictionaries(st.sampled_from(["low", "high", "log", "choices", "step"]), VALUES, max_size=3),
    SCALARS,
)


def choice_rules(allowed):
    """`[choose]` tables: mostly `allowed` splits and known metrics, sometimes PrivateTest or a stray key."""
    splits = st.sampled_from([*allowed, *allowed, "PrivateTest", "Training"])
    metrics = st.sampled_from(["accuracy", "accuracy_all", "accuracy", "accuracy_all", "f1"])
    return st.fixed_dictionaries({"split": splits, "metric": metrics}, optional={"previous": SCALARS})


SEARCH_SETTINGS = {
    "holdout": st.floats(0.05, 0.95),
    "folds": st.integers(2, 10),
    "sampler_seed": st.integers(0, 2**33),
    "trials": st.integers(0, 50),
    "description": KEY_TEXT,
}


@st.composite
def search_documents(draw):
    """Spaces over the `base` experiment's svm (C, kernel, gamma tunable), with stray kinds and names."""
    space = {}
    kinds = st.sampled_from(["model", "model", "model", "resampler", "features", "loss"])
    for kind in draw(st.lists(kinds, min_size=1, max_size=2)):
        names = st.sampled_from(["C", "C", "kernel", "gamma", "name", *PARAM_NAMES])
        space[kind] = draw(st.dictionaries(names, SPACE_SPECS, min_size=1, max_size=2))
    document = {"base": "base", "space": space}
    if draw(USUALLY):
        document["choose"] = draw(mostly(choice_rules(["holdout", "out-of-fold"])))
    for key, values in SEARCH_SETTINGS.items():
        if draw(RARELY):
            document[key] = draw(mostly(values))
    return document


@pytest.fixture
def experiments(write_experiments):
    """An experiments folder whose `base` experiment (svm on pixels) grids and searches build on."""
    return write_experiments({"base.toml": '[features]\nname = "pixels"\n[model]\nname = "svm"\n'})


def load_or_refusal(load, path):
    try:
        loaded = load(str(path))
    except FerBenchError as error:
        assert_refused_in_one_line(error, path)
        return None
    event("loaded")
    return loaded


def assert_well_formed(experiment):
    for kind in registry.KINDS:
        part = getattr(experiment, kind)
        assert PartSpec.of(kind, part.name, part.params) == part  # canonical: every parameter resolved and checked
        assert all(math.isfinite(v) for v in part.params.values() if isinstance(v, float))
    assert 0 <= experiment.seed <= MAX_SEED and set(experiment.test_splits) <= set(SPLITS[1:])


def written(path, document):
    """`document` as a TOML file at `path`, checked to read back as `document` (the fuzzer writes what it means)."""
    path.write_text(to_toml(document))
    assert tomllib.loads(path.read_text()) == document
    return path


VALID_TEXT = '# tiny\nseed = 3\n[features]\nname = "embedding"\nprotocol = "full"\n[model]\nname = "svm"\nC = 10.0\n'


@st.composite
def mangled_texts(draw):
    """The valid experiment with a slice replaced by random text or bytes, or random text or bytes alone."""
    start = draw(st.integers(0, len(VALID_TEXT)))
    end = draw(st.integers(start, len(VALID_TEXT)))
    insert = draw(st.one_of(st.text(max_size=20), st.sampled_from(["[", "]", "=", '"', "\n", "nan", "-1", "[model]"])))
    text = VALID_TEXT[:start] + insert + VALID_TEXT[end:]
    return draw(st.sampled_from([text, text, text, draw(st.text(max_size=200))])).encode("utf-8", "surrogatepass")


@FUZZ
@given(content=st.one_of(mangled_texts(), st.binary(max_size=200)))
def test_a_fuzzed_experiment_text_parses_or_is_refused_in_one_line(experiments, content):
    path = experiments / "fuzzed.toml"
    path.write_bytes(content)
    experiment = load_or_refusal(load_experiment, path)
    if experiment is not None:
        assert_well_formed(experiment)


@FUZZ
@given(document=experiment_documents())
def test_a_fuzzed_experiment_document_parses_or_is_refused_in_one_line(experiments, document):
    path = written(experiments / "fuzzed.toml", document)
    experiment = load_or_refusal(load_experiment, path)
    if experiment is not None:
        assert_well_formed(experiment)


@FUZZ
@given(document=grid_documents())
def test_a_fuzzed_grid_parses_or_is_refused_in_one_line(experiments, document):
    path = written(experiments / "fuzzed-grid.toml", document)
    grid = load_or_refusal(load_grid, path)
    if grid is not None:
        assert grid.cells and all(0 <= seed <= MAX_SEED for seed in grid.seeds)
        for experiment in grid.experiments:
            assert_well_formed(experiment)


@FUZZ
@given(document=search_documents())
def test_a_fuzzed_search_parses_or_is_refused_in_one_line(experiments, document):
    path = written(experiments / "fuzzed-search.toml", document)
    search = load_or_refusal(load_search, path)
    if search is None:
        return
    assert search.space and 0 <= search.sampler_seed <= MAX_SEED and search.trials >= 1
    for (kind, param), spec in search.space.items():
        if "choices" in spec:
            assert spec["choices"] and isinstance(spec["choices"], list)
        else:
            assert spec["low"] < spec["high"] and isinstance(spec["log"], bool)
            assert type(spec["low"]) is type(spec["high"])  # an integer range stays integer, a float range float
