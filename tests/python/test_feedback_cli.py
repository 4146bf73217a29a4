"""`ophtha feedback add|list`: the corrections store is append-only and readable by any JSON
reader (Python's json module here), and bad input gets one clear line on stderr.

    ophtha feedback add --store DIR --study ID --report FILE [--reviewer NAME] [--lang zh|en|auto]
    ophtha feedback list --store DIR [--json]
"""
import json

from conftest import describe


def test_added_corrections_are_appended_lines_that_json_reads_back(ophtha, tmp_path):
    store = tmp_path / "store"
    reports = ["OD: moderate NPDR (ICDR 2).\nRefer within 3 months.", "双眼未见明显糖尿病视网膜病变。"]
    sizes = []
    for i, text in enumerate(reports):
        path = tmp_path / f"r{i}.txt"
        path.write_text(text + "\n", encoding="utf-8")
        ophtha.ok("feedback", "add", "--store", store, "--study", f"S{i}", "--report", path, "--reviewer", "Dr Q")
        sizes.append((store / "corrections.jsonl").stat().st_size)
    data = (store / "corrections.jsonl").read_bytes()
    lines = [json.loads(line) for line in data.decode("utf-8").splitlines()]
    assert [c["sequence"] for c in lines] == [1, 2]
    assert [c["report"] for c in lines] == reports
    assert [c["lang"] for c in lines] == ["en", "zh"]  # guessed from the script
    assert sizes[0] < sizes[1]

    listed = ophtha.ok("feedback", "list", "--store", store, "--json")
    assert [json.loads(line)["study"] for line in listed.stdout.splitlines()] == ["S0", "S1"]


def test_earlier_bytes_of_the_store_never_change(ophtha, tmp_path):
    store = tmp_path / "store"
    report = tmp_path / "r.txt"
    report.write_text("OS: normal.", encoding="utf-8")
    ophtha.ok("feedback", "add", "--store", store, "--study", "A", "--report", report)
    before = (store / "corrections.jsonl").read_bytes()
    ophtha.ok("feedback", "add", "--store", store, "--study", "A", "--report", report, "--lang", "en")
    after = (store / "corrections.jsonl").read_bytes()
    assert after.startswith(before) and len(after) > len(before)


def test_bad_feedback_input_is_one_line_on_stderr(ophtha, tmp_path):
    report = tmp_path / "r.txt"
    report.write_text("text", encoding="utf-8")
    cases = [
        (["feedback", "add", "--store", tmp_path / "s", "--study", "A"], "--report is required"),
        (["feedback", "add", "--store", tmp_path / "s", "--study", "A", "--report", tmp_path / "missing.txt"],
         "cannot read the report file"),
        (["feedback", "add", "--store", tmp_path / "s", "--study", "A", "--report", report, "--lang", "fr"],
         "expects zh, en or auto"),
        (["feedback", "remove", "--store", tmp_path / "s"], "unknown feedback action 'remove'"),
    ]
    for args, fragment in cases:
        result = ophtha(*args)
        assert result.returncode != 0, describe(result)
        assert result.stderr.count("\n") == 1 and fragment in result.stderr, describe(result)
    assert not (tmp_path / "s" / "corrections.jsonl").exists()
