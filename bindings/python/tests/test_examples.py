"""examples/python: the workflow script runs end to end (synthetic studies → reports →
predictions → ophtha.evaluate → plots) on a random-weight bundle and on the default, the bundled
demo model, whose every structured report evaluate reads; the notebook's code cells are valid
Python making the same calls."""
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples" / "python"


def test_workflow_script_writes_predictions_metrics_and_plots(bundle_path, tmp_path):
    out = tmp_path / "workflow"
    result = subprocess.run([sys.executable, str(EXAMPLES / "workflow.py"), "--model", str(bundle_path), "--out",
                             str(out), "--studies", "2", "--max-tokens", "8"], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr
    predictions = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert [p["id"] for p in predictions] == ["syn-000001", "syn-000002"]
    metrics = json.loads((out / "eval" / "metrics.json").read_text())
    assert metrics["languages"]["en"]["predicted"] == 2
    assert list((out / "eval").glob("*.png")) and "plot:" in result.stdout


def test_workflow_script_defaults_to_the_demo_model_whose_reports_evaluate_reads(tmp_path):
    out = tmp_path / "workflow-demo"
    result = subprocess.run([sys.executable, str(EXAMPLES / "workflow.py"), "--out", str(out), "--studies", "3"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    predictions = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(predictions) == 3 and all("synthetic" in p["structured"]["disclaimer"] for p in predictions)
    en = json.loads((out / "eval" / "metrics.json").read_text())["languages"]["en"]
    assert en["extraction_problems"] == [] and en["labels_from_structured"] == 3, en


def test_notebook_cells_are_python_making_the_scripts_calls():
    notebook = json.loads((EXAMPLES / "workflow.ipynb").read_text())
    assert notebook["nbformat"] == 4
    code = "\n".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code")
    compile(code, "workflow.ipynb", "exec")
    for call in ("ophtha.synth(", "ophtha.Model(", "model.report(", "ophtha.evaluate("):
        assert call in code and call in (EXAMPLES / "workflow.py").read_text(), call
