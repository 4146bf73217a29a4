"""`ophtha train` end to end: a LoRA run writes its metrics log, loss curve and a GGUF the engine
runs; a run killed with SIGKILL mid-training resumes with `--resume` and writes the very GGUF (byte
for byte) of an uninterrupted run; the HF export's tokenizer.model (written by Ophtha from the
vocabulary) is read by SentencePiece as the original; a broken configuration fails with one line
naming the key.

    ophtha train --config RUN.json [--resume] [--steps N]
"""
import json
import shutil
import signal
import struct
import subprocess
import time

MODEL_ARGS = "--format gguf --type f32 --dim 64 --layers 2 --heads 4 --kv-heads 2 --ffn 96 --ctx 64 --vocab 320 --seed 41"


def write_run(folder, model, steps, **extra):
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    with open(folder / "reports.jsonl", "w") as f:
        for i in range(12):
            f.write(json.dumps({"prompt": f"Findings {i % 4}:", "response": f"The fundus shows finding {i % 3}."}) + "\n")
    run = {"model": {"from": str(model)}, "data": {"train": "reports.jsonl", "validation": "reports.jsonl"},
           "method": "lora", "lora": {"rank": 4, "alpha": 8, "dropout": 0.1, "targets": ["q", "v", "down"]},
           "optimizer": {"lr": 5e-3, "warmup_steps": 2}, "steps": steps, "batch_size": 4, "grad_accum": 2,
           "seed": 3, "threads": 1, "validation_every": 5,
           "output": {"gguf": "tuned.gguf", "metrics": "metrics.jsonl", "loss_plot": "loss.png"}}
    run.update(extra)
    (folder / "run.json").write_text(json.dumps(run))
    return folder / "run.json"


def checkpoint_step(path):
    """The step in a checkpoint's safetensors __metadata__, or -1 while there is none."""
    try:
        with open(path, "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            return int(json.loads(f.read(n))["__metadata__"]["step"])
    except (OSError, ValueError, KeyError, struct.error):
        return -1


def test_lora_run_writes_metrics_plot_and_a_model_the_engine_runs(ophtha, models, work_dir):
    config = write_run(work_dir / "train-lora", models.get(MODEL_ARGS), 10)
    result = ophtha.ok("train", "--config", config)
    assert "steps 10/10" in result.stdout and "tokens/s" in result.stdout
    assert "step 10/10" in result.stderr and "ETA" in result.stderr
    records = [json.loads(line) for line in (config.parent / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "loss" in r] == list(range(1, 11))
    assert [r["step"] for r in records if "val_loss" in r] == [5, 10]
    assert (config.parent / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ophtha.ok("generate", "--model", config.parent / "tuned.gguf", "--prompt", "Findings 1:", "-n", "4", "--temp", "0")


def test_hf_export_has_a_tokenizer_model_sentencepiece_reads_as_the_original(ophtha, models, work_dir):
    import sentencepiece

    config = write_run(work_dir / "train-hf", models.get(MODEL_ARGS), 2)
    run = json.loads(config.read_text())
    run["output"]["hf"] = "tuned-hf"
    config.write_text(json.dumps(run))
    ophtha.ok("train", "--config", config)
    ophtha.ok("generate", "--model", config.parent / "tuned-hf", "--prompt", "Findings 1:", "-n", "4", "--temp", "0")
    exported = sentencepiece.SentencePieceProcessor(model_file=str(config.parent / "tuned-hf" / "tokenizer.model"))
    original = sentencepiece.SentencePieceProcessor(
        model_file=str(models.get(MODEL_ARGS.replace("--format gguf", "--format hf")) / "tokenizer.model"))
    text = "Macular edema, 黄斑水肿 (grade 2).  Optic disc: pale."
    assert exported.vocab_size() == original.vocab_size() == 320
    assert exported.encode(text) == original.encode(text)


def test_killed_run_resumes_to_the_uninterrupted_result(ophtha, models, work_dir):
    model = models.get(MODEL_ARGS)
    whole = write_run(work_dir / "train-whole", model, 200, checkpoint={"dir": "ckpt", "every": 50})
    ophtha.ok("train", "--config", whole, timeout=300)

    killed = write_run(work_dir / "train-killed", model, 200, checkpoint={"dir": "ckpt", "every": 1})
    checkpoint = killed.parent / "ckpt" / "checkpoint.safetensors"
    child = subprocess.Popen([str(ophtha.binary), "train", "--config", str(killed)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while checkpoint_step(checkpoint) < 3 and time.time() < deadline and child.poll() is None:
        time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    assert child.wait() == -signal.SIGKILL, "the run finished before it could be killed"
    step = checkpoint_step(checkpoint)
    assert 3 <= step < 200

    ophtha.ok("train", "--config", killed, "--resume", timeout=300)
    assert (killed.parent / "tuned.gguf").read_bytes() == (whole.parent / "tuned.gguf").read_bytes()
    steps = [json.loads(line)["step"] for line in (killed.parent / "metrics.jsonl").read_text().splitlines()
             if "loss" in json.loads(line)]
    assert steps == list(range(1, 201))


def test_a_broken_configuration_fails_with_one_line_naming_the_key(ophtha, models, work_dir):
    config = write_run(work_dir / "train-bad", models.get(MODEL_ARGS), 5, batchsize=4)
    result = ophtha("train", "--config", config)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "unknown key 'batchsize'" in result.stderr, result.stderr
