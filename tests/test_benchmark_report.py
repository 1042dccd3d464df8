"""`make bench`'s report keeps each CPU kind's fast-CNN figures: a run on one kind replaces that kind's
measurement only, so a reader with an AVX2 CPU finds their speed after a run on an AVX-512 one."""

from benchmarks.run_all import by_cpu, machines, other_cpus


def measurement(isa, when, **kept):
    versions = {"python": "3.11"}
    machine = {
        "processor": "AMD EPYC",
        "isa": isa,
        "cores": 2,
        "memory_gib": 23.5,
        "platform": "Linux",
        "versions": versions,
    }
    return {"isa": isa, "measured": when, "machine": machine, "rows": [], **kept}


def test_a_run_on_another_cpu_kind_keeps_the_earlier_kinds_newest_measurement():
    avx2 = measurement("avx2", "day 1")
    assert other_cpus(avx2, "avx512-bf16") == {"avx2": avx2}


def test_a_run_on_the_same_kind_replaces_it_and_keeps_the_others():
    avx2 = measurement("avx2", "day 1")
    avx512 = measurement("avx512-bf16", "day 2", other_cpus={"avx2": avx2})
    assert other_cpus(avx512, "avx2") == {"avx512-bf16": measurement("avx512-bf16", "day 2")}
    assert other_cpus(avx512, "avx512-bf16") == {"avx2": avx2}


def test_the_report_shows_this_machine_first_then_each_other_kind_and_where_each_was_measured():
    avx2 = measurement("avx2", "day 1")
    avx512 = measurement("avx512-bf16", "day 2", other_cpus={"avx2": avx2})
    assert by_cpu(avx512) == [avx512, avx2]
    assert by_cpu(avx2) == [avx2]
    where, versions = machines({"created": "day 2", "fast": avx512})
    assert "AMD EPYC (avx512-bf16), 2 cores, 23.5 GiB; Linux. Measured there: fast (day 2)." in where
    assert "AMD EPYC (avx2), 2 cores, 23.5 GiB; Linux. Measured there: fast (day 1)." in where
    assert versions == "Versions: fast: python 3.11."
