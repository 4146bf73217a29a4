"""Diagnostic reports: the study's images as report() and embed() accept them, and the Report."""
import json
import os
import re

import numpy as np

from ._errors import InvalidArgumentError
from ._image import Eye, Image, Modality, _member

# <study>_<eye>_<modality>.<ext>: how the synthetic studies name their images (synth_image_path).
_SYNTH_NAME = re.compile(r"_(od|os)_(cfp|oct|osa)\.[a-z0-9]+$", re.IGNORECASE)


def _image_from(source, modality, eye, where):
    """An _ophtha.Image from a path or an array with its modality and eye."""
    modality = _member(Modality, modality, f"{where}: modality")
    eye = _member(Eye, eye, f"{where}: eye")
    if isinstance(source, np.ndarray):
        return Image.from_array(source, modality, eye)._image
    if isinstance(source, (str, bytes, os.PathLike)):
        return Image.from_file(source, modality, eye)._image
    raise InvalidArgumentError(
        f"{where}: the source is a {type(source).__name__}, expected a file path or a numpy array")


def study_image(spec, where):
    """The _ophtha.Image for one image of a study (an Image, a (source, modality, eye) tuple, a
    dict, or a file path named <study>_<eye>_<modality>.<ext>); `where` names it in errors."""
    if isinstance(spec, Image):
        return spec._image
    if isinstance(spec, tuple):
        if len(spec) != 3:
            raise InvalidArgumentError(f"{where} is a tuple of {len(spec)} items, expected (source, modality, eye)")
        return _image_from(*spec, where)
    if isinstance(spec, dict):
        sources = [key for key in ("path", "array") if key in spec]
        unknown = set(spec) - {"path", "array", "modality", "eye"}
        if len(sources) != 1 or unknown or "modality" not in spec or "eye" not in spec:
            raise InvalidArgumentError(
                f"{where} is a dict with keys {sorted(spec)}, expected \"path\" or \"array\", \"modality\" and \"eye\"")
        return _image_from(spec[sources[0]], spec["modality"], spec["eye"], where)
    if isinstance(spec, (str, bytes, os.PathLike)):
        name = os.fsdecode(os.path.basename(os.fspath(spec)))
        found = _SYNTH_NAME.search(name)
        if not found:
            raise InvalidArgumentError(
                f"{where}: '{name}' does not say its eye and modality (<study>_<OD|OS>_<cfp|oct|osa>.<ext>); "
                "pass (path, modality, eye)")
        return _image_from(spec, found.group(2), found.group(1), where)
    if isinstance(spec, np.ndarray):
        raise InvalidArgumentError(f"{where}: an array needs its modality and eye: pass (array, modality, eye)")
    raise InvalidArgumentError(
        f"{where} is a {type(spec).__name__}, expected an ophtha.Image, a file path, (source, modality, eye) "
        "or a dict")


class Report:
    """A written diagnostic report: its text, the structured report read from that text, and how
    it was written. ``str(report)`` is the text.

    Attributes:
        text: the report text (str), as streamed.
        structured: the structured report as a dict (docs/reports.md, docs/structured_report.schema.json):
            "schema", "language", "eyes" (per eye: findings, diagnosis with grades, referral,
            follow-up), "referral", "follow_up_months", "disclaimer", "image_checks", "model", "text".
        n_prompt_tokens: tokens in the prompt, image embeddings included.
        n_generated_tokens: tokens of the text.
        embed_seconds: image checks, preprocessing, encoding and projection.
        prefill_seconds: time spent on the prompt.
        decode_seconds: time spent generating (every draft).
        n_candidates: drafts written (1 when the report was generated once).
        chosen_candidate: the index of the draft that became the report (0 for the first).
        drafts: every draft's text in the order written (a list of n_candidates str;
            drafts[chosen_candidate] is the text unless line refinement replaced lines of it).
        refined_lines: lines of the chosen draft in which line refinement replaced, inserted or
            dropped a sentence (0 without).
        inserted_sentences: sentences line refinement inserted (0 without).
        dropped_sentences: sentences of the chosen draft line refinement left out because they
            contradicted the report so far or repeated the sentence before them word for word
            (0 without).
        guided_sentences: of the inserted sentences, those begun as guided alternatives
            (report(guided_drafts=); 0 without).
    """

    def __init__(self, text, structured, n_prompt_tokens, n_generated_tokens, embed_seconds, prefill_seconds,
                 decode_seconds, n_candidates=1, chosen_candidate=0, drafts=None, refined_lines=0,
                 inserted_sentences=0, dropped_sentences=0, guided_sentences=0):
        self.text = text
        self.structured = structured
        self.n_prompt_tokens = n_prompt_tokens
        self.n_generated_tokens = n_generated_tokens
        self.embed_seconds = embed_seconds
        self.prefill_seconds = prefill_seconds
        self.decode_seconds = decode_seconds
        self.n_candidates = n_candidates
        self.chosen_candidate = chosen_candidate
        self.drafts = list(drafts) if drafts is not None else [text]
        self.refined_lines = refined_lines
        self.inserted_sentences = inserted_sentences
        self.dropped_sentences = dropped_sentences
        self.guided_sentences = guided_sentences

    @property
    def image_checks(self):
        """What the auxiliary heads made of each input image, in input order: dicts with
        "modality", "eye", "looks_like", "looks_like_probability", "gradable_probability" and
        "used" (False: left out, it looks like another modality). Empty when the checks were off
        or the bundle has no heads."""
        return self.structured.get("image_checks", [])

    @property
    def disclaimer(self):
        """The bundle's disclaimer."""
        return self.structured.get("disclaimer", "")

    def __str__(self):
        return self.text

    def __repr__(self):
        return (f"Report({self.text[:40]!r}{'...' if len(self.text) > 40 else ''}, "
                f"n_generated_tokens={self.n_generated_tokens}, image_checks={len(self.image_checks)})")


def report_of(raw):
    """The Report of the extension's result dict."""
    return Report(raw["text"], json.loads(raw["json"]), raw["n_prompt_tokens"], raw["n_generated_tokens"],
                  raw["embed_seconds"], raw["prefill_seconds"], raw["decode_seconds"], raw["n_candidates"],
                  raw["chosen_candidate"], raw["drafts"], raw["n_refined_lines"],
                  raw["n_inserted_sentences"], raw["n_dropped_sentences"], raw["n_guided_sentences"])
