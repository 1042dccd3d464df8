import json

from fer_bench.records import RecordStore


def test_records_append_and_read_back_in_order(tmp_path):
    store = RecordStore(tmp_path)
    for i in range(3):
        store.append({"run_id": f"abcdef{i:06d}", "experiment": "paper", "status": "ok", "i": i})
    assert [r["i"] for r in store.all()] == [0, 1, 2]
    assert [r["i"] for r in store.find("paper")] == [0, 1, 2]
    assert [r["i"] for r in store.find("abcdef000001")] == [1]
    assert store.find("abc") == []  # ids need 6+ characters


def test_a_torn_last_line_is_reported_skipped_and_sealed(tmp_path, capsys):
    store = RecordStore(tmp_path)
    store.append({"run_id": "a" * 12, "status": "ok"})
    with open(store.path, "a") as handle:
        handle.write('{"run_id": "bbbb')  # a crash mid-write
    assert [r["run_id"] for r in store.all()] == ["a" * 12]
    assert "line 2: torn record skipped" in capsys.readouterr().err
    store.append({"run_id": "c" * 12, "status": "ok"})
    assert [r["run_id"] for r in store.all()] == ["a" * 12, "c" * 12]
    lines = store.path.read_text().splitlines()
    assert json.loads(lines[-1])["run_id"] == "c" * 12
