"""The image stages of `ophtha train` end to end, at a tiny size: the vision stage trains the
encoder and auxiliary heads on a synthetic manifest and logs the heads' validation metrics; the
multimodal stage trains projector and LLM on (images, prompt, report) — with a clinician's
correction from the feedback store — and writes a model bundle that `ophtha report` loads, whose
batch predictions `ophtha eval` scores; a multimodal run stopped and resumed writes the very bundle
of an uninterrupted run (batches grouped by length); data.oversample repeats a modality's images in
each vision epoch; with data.heads_findings the heads' reading of each image joins the
training prompts and the bundle's; lesion maps (heads.weights.lesions) add their loss and log their
validation; heads.calibrate_thresholds sets each finding's threshold on the validation split (also
when a finished run is resumed); in bf16 mixed precision both stages compute other numbers than
in f32 and a resumed run still writes the uninterrupted bundle; a bad stage is refused naming the key;
a disc reader trains on disc crops and a tile reader on two tiles of each gradable photograph, each
joining the bundle.
"""
import json
import struct
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def make_data(ophtha, folder):
    if folder.exists():
        shutil.rmtree(folder)
    ophtha.ok("synth", "--out", folder / "data", "--studies", "8", "--seed", "5", "--split", "0.75,0.25,0")
    subprocess.run([sys.executable if sys.executable.startswith("/usr/bin") else "/usr/bin/python3",
                    ROOT / "scripts/demo/train_tokenizer.py", "--manifest", folder / "data/manifest.jsonl",
                    "--vocab", "600", "--out", folder / "tokenizer.model"], check=True, capture_output=True)
    return folder


def vision_config(folder):
    run = {"stage": "vision",
           "data": {"manifest": "data/manifest.jsonl", "validation_manifest": "data/manifest.jsonl",
                    "validation_splits": ["val"]},
           "encoder": {"arch": "resnet18", "width": 4, "image_size": 64},
           "optimizer": {"lr": 1e-3, "warmup_steps": 1}, "steps": 3, "batch_size": 4, "seed": 2, "threads": 1,
           "validation_every": 3,
           "output": {"encoder": "encoder.safetensors", "heads": "heads.safetensors",
                      "metrics": "vision-metrics.jsonl", "loss_plot": "vision-loss.png"}}
    (folder / "vision.json").write_text(json.dumps(run))
    return folder / "vision.json"


def multimodal_config(folder, name, **extra):
    run = {"stage": "multimodal",
           "model": {"tokenizer": "tokenizer.model", "dim": 32, "layers": 1, "heads": 2, "ffn": 64, "context": 256},
           "data": {"manifest": "data/manifest.jsonl", "validation_manifest": "data/manifest.jsonl",
                    "validation_splits": ["val"], "languages": ["zh", "en"], "text_only_fraction": 0.5,
                    "max_tokens": 256, "validation_reports": 1,
                    "corrections": {"store": "corrections", "weight": 2.0}},
           "encoder": {"arch": "resnet18", "from": "encoder.safetensors", "image_size": 64},
           "heads": {"from": "heads.safetensors"},
           "projector": {"kind": "mlp2x_gelu", "pool_side": 1},
           "method": "full", "optimizer": {"lr": 1e-3, "warmup_steps": 1}, "steps": 4, "batch_size": 4,
           "seed": 3, "threads": 1, "validation_every": 4,
           "checkpoint": {"dir": f"{name}-ckpt", "every": 1},
           "output": {"bundle": f"{name}-bundle", "type": "f32", "name": "tiny", "disclaimer": "Test model, synthetic.",
                      "metrics": f"{name}-metrics.jsonl", "loss_plot": f"{name}-loss.png"}}
    run.update(extra)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(run))
    return path


def test_vision_then_multimodal_stage_write_a_bundle_report_and_eval_use(ophtha, work_dir):
    folder = make_data(ophtha, work_dir / "train-stages")
    result = ophtha.ok("train", "--config", vision_config(folder))
    assert "vision stage: steps 3/3" in result.stdout and "images/s" in result.stdout
    records = [json.loads(line) for line in (folder / "vision-metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "loss" in r] == [1, 2, 3]
    validation = [r for r in records if "val_loss" in r]
    assert len(validation) == 1 and 0 <= validation[0]["val_modality_accuracy"] <= 1
    assert "val_findings_macro_f1" in validation[0] and "val_icdr_accuracy" in validation[0]
    # The confusion counts every validation image graded on the scale once, truth by row.
    manifest_lines = [json.loads(line) for line in (folder / "data/manifest.jsonl").read_text().splitlines()]
    val_icdr = [s["labels"][i["eye"]]["grades"]["icdr"] for s in manifest_lines if s["split"] == "val"
                for i in s["images"] if i["modality"] == "cfp" and "icdr" in s["labels"][i["eye"]].get("grades", {})]
    confusion = validation[0]["val_icdr_confusion"]
    assert len(confusion) == 5 and all(len(row) == 5 for row in confusion)
    assert [sum(row) for row in confusion] == [val_icdr.count(level) for level in range(5)]
    right = sum(confusion[k][k] for k in range(5))
    assert abs(validation[0]["val_icdr_accuracy"] - right / len(val_icdr)) < 1e-9
    assert (folder / "vision-loss.png").read_bytes()[:4] == b"\x89PNG"

    manifest = [json.loads(line) for line in (folder / "data/manifest.jsonl").read_text().splitlines()]
    study = next(s for s in manifest if s["split"] == "train")
    (folder / "corrected.txt").write_text("Corrected report: no abnormality.")
    ophtha.ok("feedback", "add", "--store", folder / "corrections", "--study", study["id"], "--report",
              folder / "corrected.txt")

    config = multimodal_config(folder, "mm")
    run = json.loads(config.read_text())
    run["output"].update({"candidates": 3, "candidate_temperature": 0.9, "evidence_weight": 0.5, "line_drafts": 2,
                          "sentence_insertions": 1, "guided_drafts": 2, "drop_unsupported_findings": True})
    config.write_text(json.dumps(run))
    result = ophtha.ok("train", "--config", config, timeout=300)
    assert "multimodal stage: steps 4/4" in result.stdout
    records = [json.loads(line) for line in (folder / "mm-metrics.jsonl").read_text().splitlines()]
    validation = [r for r in records if "val_loss" in r]
    assert len(validation) == 1 and "val_en_rouge_l" in validation[0] and "val_zh_rouge_l" in validation[0]
    bundle = folder / "mm-bundle"
    assert sorted(p.name for p in bundle.iterdir()) == [
        "encoder.safetensors", "heads.safetensors", "llm.gguf", "ophtha-bundle.json", "projector.safetensors"]
    assert not (folder / "mm-bundle.partial").exists()
    generation = json.loads((bundle / "ophtha-bundle.json").read_text())["generation"]
    assert (generation["candidates"], generation["evidence_weight"]) == (3, 0.5), generation
    assert (generation["line_drafts"], generation["sentence_insertions"], generation["guided_drafts"]) == (2, 1, 2), generation
    assert abs(generation["candidate_temperature"] - 0.9) < 1e-6, generation
    assert generation["drop_unsupported_findings"] is True, generation

    image = study["images"][0]
    report = json.loads(ophtha.ok("report", "--model", bundle, "--json", "--max-tokens", "8", "--image",
                                  f"{folder / 'data' / image['path']}:{image['modality']}:{image['eye']}").stdout)
    assert report["model"] == "tiny" and report["disclaimer"] == "Test model, synthetic."
    ophtha.ok("report", "--model", bundle, "--manifest", folder / "data/manifest.jsonl", "--split", "val",
              "--max-tokens", "8", "--out", folder / "pred.jsonl", "--drafts", "--line-drafts", "0", "--keep-repeats")
    predictions = [json.loads(line) for line in (folder / "pred.jsonl").read_text().splitlines()]
    val_ids = [s["id"] for s in manifest if s["split"] == "val"]
    assert sorted((p["id"], p["lang"]) for p in predictions) == sorted((i, l) for i in val_ids for l in ("en", "zh"))
    # --drafts: the bundle's 3 drafts beside each report, the chosen one being the report; eval reads them.
    assert all(len(p["drafts"]) == 3 and p["drafts"][p["chosen"]] == p["report"] for p in predictions), predictions[0]
    ophtha.ok("eval", "--manifest", folder / "data/manifest.jsonl", "--predictions", folder / "pred.jsonl",
              "--split", "val", "--out", folder / "eval")
    assert (folder / "eval/metrics.json").exists()


def test_multimodal_run_stopped_and_resumed_writes_the_uninterrupted_bundle(ophtha, work_dir):
    folder = work_dir / "train-stages"
    if not (folder / "encoder.safetensors").exists():
        make_data(ophtha, folder)
        ophtha.ok("train", "--config", vision_config(folder))
    # Batches grouped by length: the order is still a function of the step alone.
    data = {"manifest": "data/manifest.jsonl", "max_tokens": 256, "group_by_length": 2}
    whole = multimodal_config(folder, "whole", data=data)
    ophtha.ok("train", "--config", whole, timeout=300)
    parts = multimodal_config(folder, "parts", data=data)
    first = ophtha.ok("train", "--config", parts, "--steps", "2", timeout=300)
    assert "steps 2/4" in first.stdout and not (folder / "parts-bundle").exists()
    ophtha.ok("train", "--config", parts, "--resume", timeout=300)
    for name in ("llm.gguf", "projector.safetensors"):
        assert (folder / "parts-bundle" / name).read_bytes() == (folder / "whole-bundle" / name).read_bytes(), name


NEOVASCULARISATION = 7  # its index among the 26 findings (study.hpp)


def with_finding_source(heads_path, finding, source):
    """The bytes of a version-4 heads file with one finding's source (0 pooled, 1 lesion peak) set."""
    data = bytearray(heads_path.read_bytes())
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + size])
    assert header["__metadata__"]["ophtha_heads_version"] == "4"
    begin, _ = header["heads.findings.source"]["data_offsets"]
    at = 8 + size + begin + 4 * finding
    data[at:at + 4] = struct.pack("<f", source)
    return bytes(data)


def test_heads_findings_put_the_heads_reading_into_training_prompts_and_the_bundle(ophtha, work_dir):
    folder = work_dir / "train-stages"
    if not (folder / "encoder.safetensors").exists():
        make_data(ophtha, folder)
        ophtha.ok("train", "--config", vision_config(folder))
    # Room for whole reports (reports cut at max_tokens would hide the longer prompts).
    data = {"manifest": "data/manifest.jsonl", "max_tokens": 1024}
    model = {"tokenizer": "tokenizer.model", "dim": 32, "layers": 1, "heads": 2, "ffn": 64, "context": 1024}
    plain = multimodal_config(folder, "plain", data=data, model=model, steps=1)
    guided = multimodal_config(folder, "guided", data={**data, "heads_findings": True}, model=model, steps=1)
    ophtha.ok("train", "--config", plain, timeout=300)
    ophtha.ok("train", "--config", guided, timeout=300)
    step_one = {name: next(json.loads(line) for line in (folder / f"{name}-metrics.jsonl").read_text().splitlines()
                           if json.loads(line).get("step") == 1) for name in ("plain", "guided")}
    # Same seed, same batch: the guided prompts also hold a line of the heads' reading per image.
    assert step_one["guided"]["tokens"] > step_one["plain"]["tokens"], step_one
    manifest = json.loads((folder / "guided-bundle" / "ophtha-bundle.json").read_text())
    assert manifest["prompt"]["heads_findings"] is True
    assert "heads_findings" not in json.loads((folder / "plain-bundle" / "ophtha-bundle.json").read_text())["prompt"]
    image = json.loads((folder / "data/manifest.jsonl").read_text().splitlines()[0])["images"][0]
    ophtha.ok("report", "--model", folder / "guided-bundle", "--max-tokens", "4", "--image",
              f"{folder / 'data' / image['path']}:{image['modality']}:{image['eye']}")

    # Heads that read new vessels by their lesion map's peak: the run takes each image's peaks from the
    # encoder's full grid (before pooling) for the prompts; the bundle keeps those heads and reports.
    peaked = folder / "peaked-heads.safetensors"
    peaked.write_bytes(with_finding_source(folder / "heads.safetensors", NEOVASCULARISATION, 1.0))
    run = json.loads(guided.read_text())
    run["heads"] = {"from": str(peaked)}
    run["output"]["bundle"] = "peaked-bundle"
    (folder / "peaked.json").write_text(json.dumps(run))
    ophtha.ok("train", "--config", folder / "peaked.json", timeout=300)
    assert (folder / "peaked-bundle" / "heads.safetensors").read_bytes() == peaked.read_bytes()
    ophtha.ok("report", "--model", folder / "peaked-bundle", "--max-tokens", "4", "--image",
              f"{folder / 'data' / image['path']}:{image['modality']}:{image['eye']}")

    headless = json.loads(guided.read_text())
    del headless["heads"]
    (folder / "headless.json").write_text(json.dumps(headless))
    result = ophtha("train", "--config", folder / "headless.json")
    assert result.returncode != 0 and "data.heads_findings needs the auxiliary heads" in result.stderr, result.stderr


def test_oversampled_modality_repeats_its_images_in_each_vision_epoch(ophtha, work_dir):
    folder = work_dir / "train-stages"
    if not (folder / "data/manifest.jsonl").exists():
        make_data(ophtha, folder)
    manifest = [json.loads(line) for line in (folder / "data/manifest.jsonl").read_text().splitlines()]
    count = {m: sum(i["modality"] == m for s in manifest if s["split"] == "train" for i in s["images"])
             for m in ("cfp", "oct", "osa")}
    run = json.loads(vision_config(folder).read_text())
    del run["steps"]
    run.update(epochs=1, batch_size=1, validation_every=0, output={})
    for name, oversample in (("once", {}), ("thrice", {"cfp": 3, "osa": 2})):
        run["data"]["oversample"] = oversample
        (folder / f"{name}.json").write_text(json.dumps(run))
    once = ophtha.ok("train", "--config", folder / "once.json")
    thrice = ophtha.ok("train", "--config", folder / "thrice.json")
    total = sum(count.values())
    assert f"steps {total}/{total}" in once.stdout, once.stdout
    more = 3 * count["cfp"] + count["oct"] + 2 * count["osa"]
    assert f"steps {more}/{more}" in thrice.stdout, thrice.stdout

    run["data"]["oversample"] = {"cfp": 0}
    (folder / "bad.json").write_text(json.dumps(run))
    result = ophtha("train", "--config", folder / "bad.json")
    assert result.returncode != 0 and "data.oversample.cfp" in result.stderr, result.stderr
    run["data"]["oversample"] = {"fundus": 2}
    (folder / "bad.json").write_text(json.dumps(run))
    result = ophtha("train", "--config", folder / "bad.json")
    assert result.returncode != 0 and "fundus" in result.stderr, result.stderr


def test_lesion_maps_add_their_loss_and_log_their_validation(ophtha, work_dir):
    folder = make_data(ophtha, work_dir / "train-lesions")  # fresh: the manifest must carry lesion marks
    manifest = [json.loads(line) for line in (folder / "data/manifest.jsonl").read_text().splitlines()]
    val_marked = {m["finding"] for s in manifest if s["split"] == "val" for i in s["images"]
                  for m in i.get("lesions", [])}
    assert val_marked, "the validation split needs a marked lesion for this test"
    run = json.loads(vision_config(folder).read_text())
    first_losses = {}
    for name, weight in (("plain", 0), ("maps", 1.0)):
        run["heads"] = {"weights": {"lesions": weight}}
        run["output"] = {"heads": f"{name}-heads.safetensors", "metrics": f"{name}-metrics.jsonl"}
        (folder / f"{name}.json").write_text(json.dumps(run))
        ophtha.ok("train", "--config", folder / f"{name}.json")
        records = [json.loads(line) for line in (folder / f"{name}-metrics.jsonl").read_text().splitlines()]
        first_losses[name] = next(r["loss"] for r in records if r.get("step") == 1 and "loss" in r)
        validation = next(r for r in records if "val_loss" in r)
        if weight == 0:
            assert "val_lesion_loss" not in validation
            continue
        # Per cell and finding the loss starts near ln 2, summed over the 2 × 2 cells of a 64-px image.
        assert 0 < validation["val_lesion_loss"] < 2 * 4 * 0.7
        assert set(validation["val_lesion_cell_f1"]) == val_marked
        assert all(0 <= f1 <= 1 for f1 in validation["val_lesion_cell_f1"].values())
    # Same seed, same first batch: the maps add a positive term to the very first loss.
    assert first_losses["maps"] > first_losses["plain"] + 0.1, first_losses


def test_calibrated_thresholds_are_logged_written_and_a_finished_run_calibrates_on_resume(ophtha, work_dir):
    folder = make_data(ophtha, work_dir / "train-calibration")
    run = json.loads(vision_config(folder).read_text())
    run["heads"] = {"weights": {"lesions": 4}}  # the lesion maps trained: their peaks compete in calibration
    run["checkpoint"] = {"dir": "plain-ckpt", "every": 3}
    run["output"] = {"heads": "plain-heads.safetensors", "metrics": "plain-metrics.jsonl"}
    (folder / "plain.json").write_text(json.dumps(run))
    ophtha.ok("train", "--config", folder / "plain.json")
    run["heads"].update({"calibrate_thresholds": True, "calibration_min_positives": 1})
    run["checkpoint"] = {"dir": "calibrated-ckpt", "every": 3}
    run["output"] = {"heads": "calibrated-heads.safetensors", "metrics": "calibrated-metrics.jsonl"}
    (folder / "calibrated.json").write_text(json.dumps(run))
    ophtha.ok("train", "--config", folder / "calibrated.json")

    records = [json.loads(line) for line in (folder / "calibrated-metrics.jsonl").read_text().splitlines()]
    at_half = next(r for r in records if "val_findings_f1" in r)["val_findings_f1"]
    calibrated = next(r for r in records if "val_calibrated_findings_f1" in r)
    thresholds = calibrated["finding_thresholds"]
    assert len(thresholds) == 26 and all(0 < t < 1 for t in thresholds.values()), thresholds
    assert any(t != 0.5 for t in thresholds.values()), thresholds  # the tiny model's probabilities are not at 0.5
    sources = calibrated["finding_sources"]
    assert set(sources) == set(thresholds) and set(sources.values()) <= {"pooled", "lesion_peak"}, sources
    # The lesion maps' peaks competed for every finding calibrated; a finding read by its peak reads
    # at the peak's best F1, one read by the pooled head at least as well as its peak could.
    # The grades as the calibrated heads read the images: each scale the validation split grades.
    read = calibrated["val_read_grades_accuracy"]
    assert {"icdr", "areds", "cup_disc"} <= set(read) and all(0 <= a <= 1 for a in read.values()), read
    peak_f1 = calibrated["val_lesion_peak_findings_f1"]
    pooled_f1 = calibrated["val_pooled_findings_f1"]
    assert peak_f1 and set(peak_f1) == set(pooled_f1) <= set(at_half), (peak_f1, pooled_f1)
    for code, f1 in peak_f1.items():
        read_f1 = calibrated["val_calibrated_findings_f1"][code]
        if sources[code] == "lesion_peak":
            assert abs(read_f1 - f1) < 1e-12 and f1 > pooled_f1[code], code
        else:
            assert abs(read_f1 - pooled_f1[code]) < 1e-12 and read_f1 >= f1 - 1e-12, code
    # The pooled head at 0.5 is among the readings searched: calibrating on a split never lowers a
    # finding's F1 there.
    assert set(calibrated["val_calibrated_findings_f1"]) == set(at_half)
    for code, f1 in at_half.items():
        assert calibrated["val_calibrated_findings_f1"][code] >= f1 - 1e-12, (code, f1)

    header = lambda path: json.loads((path).read_bytes()[8:8 + int.from_bytes(path.read_bytes()[:8], "little")])
    assert header(folder / "calibrated-heads.safetensors")["__metadata__"]["ophtha_heads_version"] == "4"
    # The uncalibrated run's last checkpoint, resumed with calibration on, writes the calibrated heads.
    run["checkpoint"] = {"dir": "plain-ckpt", "every": 3}
    run["output"] = {"heads": "resumed-heads.safetensors"}
    (folder / "resumed.json").write_text(json.dumps(run))
    resumed = ophtha.ok("train", "--config", folder / "resumed.json", "--resume")
    assert "steps 3/3, no step left to train" in resumed.stdout, resumed.stdout
    assert (folder / "resumed-heads.safetensors").read_bytes() == (folder / "calibrated-heads.safetensors").read_bytes()

    del run["data"]["validation_manifest"]
    (folder / "bad.json").write_text(json.dumps(run))
    result = ophtha("train", "--config", folder / "bad.json")
    assert result.returncode != 0 and "heads.calibrate_thresholds" in result.stderr, result.stderr


def test_bf16_stages_resume_bit_for_bit_and_compute_other_numbers_than_f32(ophtha, work_dir):
    folder = work_dir / "train-stages"
    if not (folder / "encoder.safetensors").exists():
        make_data(ophtha, folder)
        ophtha.ok("train", "--config", vision_config(folder))
    # The vision stage in bf16: it runs to finite losses, and its encoder is not the f32 one.
    run = json.loads(vision_config(folder).read_text())
    run["validation_every"] = 0
    for precision in ("f32", "bf16"):
        run["precision"] = precision
        run["output"] = {"encoder": f"encoder-{precision}.safetensors", "metrics": f"vision-{precision}.jsonl"}
        (folder / f"vision-{precision}.json").write_text(json.dumps(run))
        ophtha.ok("train", "--config", folder / f"vision-{precision}.json")
    losses = [json.loads(line)["loss"] for line in (folder / "vision-bf16.jsonl").read_text().splitlines()
              if "loss" in json.loads(line)]
    assert len(losses) == 3 and all(0 < x < 100 for x in losses), losses
    assert (folder / "encoder-bf16.safetensors").read_bytes() != (folder / "encoder-f32.safetensors").read_bytes()

    # The multimodal stage in bf16, stopped and resumed, writes the uninterrupted run's bundle.
    for name in ("f32", "bf16-whole", "bf16-parts"):  # no checkpoint or bundle of an earlier test run
        for left in (f"{name}-ckpt", f"{name}-bundle"):
            shutil.rmtree(folder / left, ignore_errors=True)
    data = {"manifest": "data/manifest.jsonl", "max_tokens": 256}
    f32 = multimodal_config(folder, "f32", data=data, threads=2)
    whole = multimodal_config(folder, "bf16-whole", data=data, threads=2, precision="bf16")
    parts = multimodal_config(folder, "bf16-parts", data=data, threads=2, precision="bf16")
    for config in (f32, whole):
        ophtha.ok("train", "--config", config, timeout=300)
    ophtha.ok("train", "--config", parts, "--steps", "2", timeout=300)
    ophtha.ok("train", "--config", parts, "--resume", timeout=300)
    llm = {name: (folder / f"{name}-bundle" / "llm.gguf").read_bytes() for name in ("f32", "bf16-whole", "bf16-parts")}
    assert llm["bf16-parts"] == llm["bf16-whole"]
    assert llm["bf16-whole"] != llm["f32"]
    # An f32 configuration does not resume a bf16 run's checkpoint.
    mixed = json.loads(parts.read_text())
    mixed["precision"] = "f32"
    (folder / "mixed.json").write_text(json.dumps(mixed))
    result = ophtha("train", "--config", folder / "mixed.json", "--resume")
    assert result.returncode != 0 and "another run" in result.stderr, result.stderr


def test_unknown_stage_is_refused_naming_the_key(ophtha, work_dir):
    folder = work_dir / "train-stages-bad"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "run.json").write_text(json.dumps({"stage": "pictures", "data": {}}))
    result = ophtha("train", "--config", folder / "run.json")
    assert result.returncode != 0
    assert "'stage'" in result.stderr and "multimodal" in result.stderr


def bundle_for_a_reader(ophtha, work_dir, name):
    """The tiny data, its vision stage and a one-step multimodal bundle `name`-bundle for a region
    reader to join: (folder, bundle)."""
    folder = work_dir / "train-stages"
    if not (folder / "data/manifest.jsonl").exists():
        make_data(ophtha, folder)
    if not (folder / "encoder.safetensors").exists():
        ophtha.ok("train", "--config", vision_config(folder))
    ophtha.ok("train", "--config", multimodal_config(folder, name, steps=1, validation_every=0), timeout=300)
    return folder, folder / f"{name}-bundle"


def test_disc_reader_stage_trains_on_disc_crops_of_fundus_images_and_joins_the_bundle(ophtha, work_dir):
    folder, bundle = bundle_for_a_reader(ophtha, work_dir, "disc-mm")
    manifest = [json.loads(line) for line in (folder / "data/manifest.jsonl").read_text().splitlines()]
    fundus = [i for s in manifest if s["split"] == "train" for i in s["images"] if i["modality"] == "cfp"]
    assert fundus, "the tiny manifest has no training CFP image"

    run = json.loads(vision_config(folder).read_text())
    del run["steps"]
    run.update(epochs=1, batch_size=1, validation_every=0)
    run["data"]["modalities"] = ["cfp"]
    run["encoder"].update(region="optic_disc", disc_side=0.3, image_size=48)
    run["heads"] = {"calibrate_thresholds": True}
    run["output"] = {"disc_reader": {"bundle": "disc-mm-bundle", "findings": ["disc_haemorrhage", "rim_thinning"]}}
    (folder / "disc.json").write_text(json.dumps(run))
    result = ophtha.ok("train", "--config", folder / "disc.json")
    assert f"steps {len(fundus)}/{len(fundus)}" in result.stdout, result.stdout  # the CFP images only
    reader = json.loads((bundle / "ophtha-bundle.json").read_text())["disc_reader"]
    assert reader["findings"] == ["disc_haemorrhage", "rim_thinning"], reader
    assert reader["preprocessing"]["region"] == "optic_disc" and reader["preprocessing"]["size"] == 48, reader
    assert abs(reader["preprocessing"]["disc_side"] - 0.3) < 1e-9, reader
    assert (bundle / reader["encoder"]["path"]).exists() and (bundle / reader["heads"]["path"]).exists()
    image = fundus[0]
    report = json.loads(ophtha.ok("report", "--model", bundle, "--json", "--max-tokens", "8", "--image",
                                  f"{folder / 'data' / image['path']}:cfp:{image['eye']}").stdout)
    assert report["model"] == "tiny"

    # Misconfigurations are refused before training, naming the key.
    for change, needle in ((lambda r: r["data"].pop("modalities"), "data.modalities"),
                           (lambda r: r["encoder"].pop("region"), "needs encoder.region"),
                           (lambda r: r["output"]["disc_reader"].update(findings=["subretinal_fluid"]),
                            "output.disc_reader.findings"),
                           (lambda r: r["encoder"].update(region="macula"), "encoder.region"),
                           (lambda r: r["output"]["disc_reader"].update(bundle="no-such-bundle"), "no-such-bundle")):
        bad = json.loads(json.dumps(run))
        change(bad)
        (folder / "disc-bad.json").write_text(json.dumps(bad))
        result = ophtha("train", "--config", folder / "disc-bad.json")
        assert result.returncode != 0 and needle in result.stderr, (needle, result.stderr)


def test_tile_reader_stage_trains_on_tiles_of_fundus_images_and_joins_the_bundle(ophtha, work_dir):
    folder, bundle = bundle_for_a_reader(ophtha, work_dir, "tile-mm")
    manifest = [json.loads(line) for line in (folder / "data/manifest.jsonl").read_text().splitlines()]
    # The reader's findings: CFP findings marked in the training photographs (two at most).
    marked = sorted({m["finding"] for s in manifest if s["split"] == "train" for i in s["images"]
                     if i["modality"] == "cfp" for m in i.get("lesions", [])})[:2]
    assert marked, "the tiny manifest has no marked lesion in a training photograph"
    gradable = [i for s in manifest if s["split"] == "train" for i in s["images"]
                if i["modality"] == "cfp" and "cfp" not in s["labels"][i["eye"]]["ungradable"]]

    run = json.loads(vision_config(folder).read_text())
    del run["steps"]
    run.update(epochs=1, batch_size=1, validation_every=0)
    run["data"]["modalities"] = ["cfp"]
    run["encoder"].update(region="tiles", image_size=64, tile_grid=2, tile_stride=48)
    run["heads"] = {"weights": {"lesions": 1}, "calibrate_thresholds": True}
    run["output"] = {"metrics": "tile-metrics.jsonl",
                     "tile_reader": {"bundle": "tile-mm-bundle", "findings": marked}}
    (folder / "tiles.json").write_text(json.dumps(run))
    result = ophtha.ok("train", "--config", folder / "tiles.json")
    # Two tiles of each gradable photograph an epoch: one holding a mark, one at random.
    steps = 2 * len(gradable)
    assert f"steps {steps}/{steps}" in result.stdout, (steps, result.stdout)
    records = [json.loads(line) for line in (folder / "tile-metrics.jsonl").read_text().splitlines()]
    validation = next(r for r in records if "val_loss" in r)
    # Scored per photograph (the largest over its tiles) on the reader's findings only; no grades.
    assert set(validation.get("val_findings_f1", {})) <= set(marked), validation
    assert not any(key.endswith("_accuracy") and key != "val_modality_accuracy" for key in validation), validation
    calibrated = next(r for r in records if "finding_thresholds" in r)
    assert set(calibrated["val_calibrated_findings_f1"]) <= set(marked), calibrated
    reader = json.loads((bundle / "ophtha-bundle.json").read_text())["tile_reader"]
    assert reader["findings"] == marked, reader
    assert reader["preprocessing"] == {**reader["preprocessing"], "region": "tiles", "size": 64, "tile_grid": 2,
                                       "tile_stride": 48}, reader
    assert (bundle / reader["encoder"]["path"]).exists() and (bundle / reader["heads"]["path"]).exists()
    image = gradable[0]
    report = json.loads(ophtha.ok("report", "--model", bundle, "--json", "--max-tokens", "8", "--image",
                                  f"{folder / 'data' / image['path']}:cfp:{image['eye']}").stdout)
    assert report["model"] == "tiny"

    # A finding shown in the training photographs but never marked cannot be placed in a tile.
    unmarked = sorted({f for s in manifest if s["split"] == "train" for eye, labels in s["labels"].items()
                       for f in labels["findings"]
                       if any(i["modality"] == "cfp" and i["eye"] == eye for i in s["images"])} &
                      {"enlarged_cup", "rim_thinning", "pigmentary_change", "geographic_atrophy"} - set(
                          m["finding"] for s in manifest for i in s["images"] for m in i.get("lesions", [])))
    # Misconfigurations are refused before training, naming the key.
    changes = [(lambda r: r["output"].pop("tile_reader"), "needs 'output.tile_reader'"),
               (lambda r: r["encoder"].update(tile_stride=80), "encoder.tile_stride"),
               (lambda r: r["encoder"].update(region="optic_disc"), "needs encoder.region \"tiles\""),
               (lambda r: r["data"].pop("modalities"), "data.modalities"),
               (lambda r: r["output"].update(disc_reader={"bundle": "tile-mm-bundle", "findings": marked}),
                "a stage trains one reader")]
    assert unmarked, "the tiny manifest shows no unmarked CFP finding in a training photograph"
    changes.append((lambda r: r["output"]["tile_reader"].update(findings=[unmarked[0]]), "never marks"))
    for change, needle in changes:
        bad = json.loads(json.dumps(run))
        change(bad)
        (folder / "tiles-bad.json").write_text(json.dumps(bad))
        result = ophtha("train", "--config", folder / "tiles-bad.json")
        assert result.returncode != 0 and needle in result.stderr, (needle, result.stderr)
