"""ophtha.synth, ophtha.evaluate and ophtha.train: the workflow from a notebook — small synthetic
studies, their evaluation, and a tiny language-stage training run that on_step can stop and that
resumes to the end."""
import json
import shutil

import pytest

import ophtha
from conftest import make_model

TRAIN_MODEL = "--format gguf --type f32 --dim 64 --layers 2 --heads 4 --kv-heads 2 --ffn 96 --ctx 64 --vocab 320 --seed 41"


@pytest.fixture(scope="module")
def studies(work_dir):
    folder = work_dir / "tools-synth"
    shutil.rmtree(folder, ignore_errors=True)
    return ophtha.synth(folder, 4, seed=3, lang="en", split=(0.5, 0.25, 0.25))


def test_synth_writes_the_manifest_of_the_studies_asked_for(studies, work_dir):
    lines = [json.loads(line) for line in open(studies, encoding="utf-8")]
    assert studies == str(work_dir / "tools-synth" / "manifest.jsonl")
    assert [study["id"] for study in lines] == ["syn-000001", "syn-000002", "syn-000003", "syn-000004"]
    assert all(set(study["reports"]) == {"en"} for study in lines), "lang='en' writes English reports only"


def test_synth_same_seed_same_bytes_whatever_the_threads(studies, work_dir):
    again = ophtha.synth(work_dir / "tools-synth-again", 4, seed=3, lang="en", split=(0.5, 0.25, 0.25), threads=1,
                         force=True)
    assert open(again, "rb").read() == open(studies, "rb").read()


def test_synth_refuses_bad_values_and_a_non_empty_folder(studies, work_dir, tmp_path):
    with pytest.raises(ophtha.InvalidArgumentError, match="non-empty|not empty"):
        ophtha.synth(work_dir / "tools-synth", 4, seed=3)
    with pytest.raises(ophtha.InvalidArgumentError, match="params->studies is 0"):
        ophtha.synth(tmp_path / "a", 0)
    with pytest.raises(ophtha.InvalidArgumentError, match="params->lang is 'fr'"):
        ophtha.synth(tmp_path / "b", 3, lang="fr")
    with pytest.raises(ophtha.InvalidArgumentError, match="split has 2 fractions"):
        ophtha.synth(tmp_path / "c", 3, split=(0.5, 0.5))


def test_synth_progress_can_cancel_and_no_manifest_is_left(tmp_path):
    fractions = []
    with pytest.raises(ophtha.AbortedError):
        ophtha.synth(tmp_path / "cancelled", 200, progress=lambda f: fractions.append(f) or True)
    assert fractions and not (tmp_path / "cancelled" / "manifest.jsonl").exists()


def test_evaluate_scores_predictions_and_writes_the_files_when_asked(studies, tmp_path):
    predictions = tmp_path / "predictions.jsonl"
    references = [json.loads(line) for line in open(studies, encoding="utf-8")]
    predictions.write_text("".join(json.dumps({"id": s["id"], "lang": "en", "report": s["reports"]["en"]}) + "\n"
                                   for s in references) + "not json\n")
    result = ophtha.evaluate(studies, predictions, tmp_path / "eval", split="all")
    assert result["counts"]["studies_in_split"] == 4 and result["counts"]["malformed_lines"] == 1
    english = result["languages"]["en"]
    assert english["predicted"] == 4 and english["missing_ids"] == []
    assert english["text"]["rouge_l"] == pytest.approx(1.0), "a reference scored against itself has ROUGE-L 1"
    assert (tmp_path / "eval" / "metrics.json").is_file() and (tmp_path / "eval" / "summary.md").is_file()
    assert ophtha.evaluate(studies, predictions, split="all") == result


def test_evaluate_errors_name_the_file_or_value(studies, tmp_path):
    with pytest.raises(ophtha.IoError, match="/no/such/manifest.jsonl"):
        ophtha.evaluate("/no/such/manifest.jsonl", studies)
    with pytest.raises(ophtha.IoError, match="/no/such/predictions.jsonl"):
        ophtha.evaluate(studies, "/no/such/predictions.jsonl")
    with pytest.raises(ophtha.InvalidArgumentError, match="'fr'"):
        ophtha.evaluate(studies, studies, lang="fr")


def write_run(folder, model, steps):
    folder.mkdir(parents=True)
    with open(folder / "reports.jsonl", "w") as f:
        for i in range(8):
            f.write(json.dumps({"prompt": f"Findings {i % 4}:", "response": f"The fundus shows finding {i % 3}."}) + "\n")
    run = {"model": {"from": str(model)}, "data": {"train": "reports.jsonl", "validation": "reports.jsonl"},
           "method": "lora", "lora": {"rank": 2, "alpha": 4, "targets": ["q", "v"]}, "optimizer": {"lr": 5e-3},
           "steps": steps, "batch_size": 2, "seed": 3, "threads": 1, "validation_every": 2,
           "checkpoint": {"dir": "ckpt", "every": 1}, "output": {"gguf": "tuned.gguf"}}
    (folder / "run.json").write_text(json.dumps(run))
    return folder / "run.json"


def test_train_stops_when_on_step_returns_false_and_resumes_to_the_end(work_dir, tmp_path):
    config = write_run(tmp_path / "run", make_model(work_dir, TRAIN_MODEL), 6)
    seen = []
    result = ophtha.train(config, on_step=lambda step: seen.append(step) or len(seen) < 3)
    assert [s["step"] for s in seen] == [1, 2, 3]
    assert all(s["stage"] == "language" and s["total_steps"] == 6 and s["loss"] > 0 for s in seen)
    assert [s["validation_loss"] is not None for s in seen] == [False, True, False]
    assert result["complete"] is False and result["step"] == 3 and not (tmp_path / "run" / "tuned.gguf").exists()

    assert ophtha.train(config, resume=True, max_steps=1)["step"] == 4
    done = ophtha.train(config, resume=True)
    assert done["complete"] is True and done["step"] == 6 and done["stage"] == "language"
    assert any(path.endswith("tuned.gguf") for path in done["outputs"])
    with ophtha.Model(tmp_path / "run" / "tuned.gguf") as tuned:
        assert tuned.generate("Findings 1:", max_tokens=4, temperature=0)


def test_train_raises_what_on_step_raised_and_names_a_missing_config(work_dir, tmp_path):
    config = write_run(tmp_path / "run", make_model(work_dir, TRAIN_MODEL), 4)

    def fail(step):
        raise RuntimeError(f"stop at {step['step']}")

    with pytest.raises(RuntimeError, match="stop at 1"):
        ophtha.train(config, on_step=fail)
    with pytest.raises(ophtha.IoError, match="/no/such/run.json"):
        ophtha.train("/no/such/run.json")
    with pytest.raises(ophtha.InvalidArgumentError, match="max_steps is -2"):
        ophtha.train(config, max_steps=-2)
