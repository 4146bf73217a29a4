"""The workflow's tools: synthetic studies, evaluation and training (ophtha_synth,
ophtha_evaluate, ophtha_train_run) — what `ophtha synth / eval / train` do, as functions."""
import json
import os

from . import _ophtha
from ._errors import InvalidArgumentError


def synth(out, studies, seed=0, lang="both", split=(0.8, 0.1, 0.1), threads=2, *, force=False, progress=None):
    """Writes `studies` synthetic studies (CFP, OCT and meibography images with their labels and
    reference reports; docs/synthetic.md) into the folder `out`: out/images/ and the study
    manifest out/manifest.jsonl, which appears only once every study is written. The same seed
    writes the same bytes whatever `threads`. The images carry no clinical validity.

    Args:
        out: the output folder (str or os.PathLike); created when missing, must be empty unless
            `force` (then files of the same names are overwritten and no other is touched).
        studies: 1 .. 999999 (ids syn-000001, ...).
        seed: an integer in [0, 2**64).
        lang: the reference reports: "zh", "en" or "both".
        split: the (train, val, test) fractions, each in [0, 1], summing to 1.
        threads: rendering threads, 1 .. 256.
        progress: ``progress(fraction)`` about every 0.25 s with the fraction of studies written;
            a true return cancels (AbortedError; no manifest is written). Ctrl-C cancels too.

    Returns:
        The manifest's path, str.

    Raises:
        InvalidArgumentError (the message names the value and its range, or a non-empty folder),
        IoError, AbortedError, KeyboardInterrupt.
    """
    out = os.fsdecode(os.fspath(out))
    split = tuple(float(x) for x in split)
    if len(split) != 3:
        raise InvalidArgumentError(f"split has {len(split)} fractions, expected 3 (train, val, test)")
    seed = int(seed)
    if not 0 <= seed < 2 ** 64:
        raise InvalidArgumentError(f"seed is {seed}, expected an integer in [0, 2**64)")
    _ophtha.synth(out, int(studies), seed, str(lang), *split, int(threads), bool(force), progress,
                  _ophtha.DEFAULT_POLL_SECONDS)
    return os.path.join(out, "manifest.jsonl")


def evaluate(manifest, predictions, out=None, *, lang=None, split="test"):
    """Scores generated reports against a study manifest's reference reports and labels, as
    `ophtha eval` does (docs/evaluation.md): BLEU-1..4, ROUGE-L, CIDEr-D, METEOR and the clinical
    metrics, per language.

    Args:
        manifest: the study manifest (JSON Lines), e.g. what synth() wrote.
        predictions: the generated reports, JSON Lines of {"id", "lang"?, "report", "structured"?}.
        out: a folder to write metrics.json, summary.md and the plots into; None: no files.
        lang: "zh" or "en" to score only that language; None: every language present.
        split: "train", "val", "test" or "all".

    Returns:
        The results as a dict (what metrics.json holds). Malformed lines, unknown ids and repeats
        are counted in it, not raised.

    Raises:
        IoError (a file cannot be read or out written), InvalidFormatError (a broken manifest: the
        message names the file and line), InvalidArgumentError.
    """
    path = lambda p: os.fsdecode(os.fspath(p))
    result = _ophtha.evaluate(path(manifest), path(predictions), None if out is None else path(out), lang, split)
    return json.loads(result)


def train(config, resume=False, max_steps=None, on_step=None):
    """Runs a training configuration file (JSON; its "stage" key picks the language, vision or
    multimodal stage; docs/training.md), as `ophtha train --config` does. Checkpoints and outputs
    go where the configuration says.

    Args:
        config: the configuration file's path.
        resume: continue from the configuration's checkpoint.
        max_steps: stop after this many more steps (the run stays resumable); None: no limit.
        on_step: ``on_step(step)`` after every optimizer step, with a dict: "stage", "step",
            "total_steps", "loss", "lr", "seconds", "items", "validation_loss" (None when
            validation did not run after this step). Returning False stops the run after this
            step (resumable); an exception stops it and is raised. Ctrl-C stops it too.

    Returns:
        A dict: "stage", "step", "total_steps", "complete" (False when max_steps or on_step
        stopped the run early) and "outputs" (the files and folders written).

    Raises:
        InvalidArgumentError (the message names the file and key), IoError, InvalidFormatError,
        UnsupportedError, KeyboardInterrupt, or what on_step raised.
    """
    if max_steps is not None and int(max_steps) < 0:
        raise InvalidArgumentError(f"max_steps is {max_steps}, expected >= 0 or None")
    result = _ophtha.train(os.fsdecode(os.fspath(config)), bool(resume), -1 if max_steps is None else int(max_steps),
                           on_step)
    return json.loads(result)
