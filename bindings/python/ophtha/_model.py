"""Language models and model bundles, sessions, text generation, reports and image embeddings
(ophtha_model, ophtha_session, ophtha_generate, ophtha_report_generate, ophtha_image_embed)."""
import enum
import inspect
import os
import queue
import threading
from typing import Any, Callable, Optional

import numpy as np

from . import _ophtha
from ._errors import InvalidArgumentError
from ._image import Image
from ._report import Report, report_of, study_image

# The library's defaults (ophtha_generate_params_default), used as the keyword defaults below so
# that help() shows the values the library actually uses.
_DEFAULTS = _ophtha.generate_defaults()
_REPORT_DEFAULTS = _ophtha.report_defaults()
_INT32 = (-(2 ** 31), 2 ** 31 - 1)


class StopReason(enum.IntEnum):
    """Why generation ended (ophtha_stop_reason)."""
    EOS = _ophtha.STOP_REASON["EOS"]                  #: the model produced its end-of-sequence token
    STRING = _ophtha.STOP_REASON["STRING"]            #: a stop string appeared (it is not in the text)
    TOKEN_LIMIT = _ophtha.STOP_REASON["TOKEN_LIMIT"]  #: max_tokens generated, or the context is full
    CANCELLED = _ophtha.STOP_REASON["CANCELLED"]      #: on_text returned true, or a stream was closed early


class Generation(str):
    """The generated text — this object *is* that ``str`` — and how it came about.

    Attributes:
        tokens: the generated token ids (the prompt's are not included), list[int].
        stop_reason: a StopReason.
        n_prompt_tokens: tokens in the prompt, BOS included.
        prefill_seconds: time spent on the prompt.
        decode_seconds: time spent generating.
    """

    def __new__(cls, text, tokens, stop_reason, n_prompt_tokens, prefill_seconds, decode_seconds):
        self = super().__new__(cls, text)
        self.tokens = list(tokens)
        self.stop_reason = StopReason(stop_reason)
        self.n_prompt_tokens = n_prompt_tokens
        self.prefill_seconds = prefill_seconds
        self.decode_seconds = decode_seconds
        return self

    @property
    def text(self):
        """The generated text as a plain str."""
        return str.__str__(self)

    @property
    def tokens_per_second(self):
        """Generated tokens per second of decoding (0.0 when nothing was timed)."""
        return len(self.tokens) / self.decode_seconds if self.decode_seconds > 0 else 0.0

    def __repr__(self):
        return (f"Generation({self.text!r}, tokens={len(self.tokens)}, stop_reason={self.stop_reason.name}, "
                f"n_prompt_tokens={self.n_prompt_tokens})")

    def __reduce__(self):
        return (Generation, (self.text, self.tokens, int(self.stop_reason), self.n_prompt_tokens,
                             self.prefill_seconds, self.decode_seconds))


def _generation(raw):
    return Generation(raw["text"], raw["tokens"], raw["stop_reason"], raw["n_prompt_tokens"],
                      raw["prefill_seconds"], raw["decode_seconds"])


class GenerationStream:
    """An iterator over the pieces of text of one generation, as the model produces them.

    Each piece is a non-empty ``str`` of whole characters; the pieces concatenate to the text a
    non-streamed ``generate`` with the same arguments returns. Generation runs on a worker thread
    and starts at the first ``next()``. After the last piece, ``result`` is the Generation.
    Closing the stream early (``close()``, leaving a ``with`` block, ``break`` out of a for loop
    over a stream nobody else holds) ends generation at the next token and waits for the worker.
    An error of the generation (e.g. ContextOverflowError) is raised by ``next()``.
    """

    _END = object()

    def __init__(self, run):
        self._run = run  # run(on_text, cancel_flag) -> the extension's result dict
        self._pieces = self._produce()
        #: The Generation, once every piece has been read; None before that or after close().
        self.result = None

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._pieces)

    def close(self):
        """Ends generation (stop reason CANCELLED) and waits for the worker thread to finish."""
        self._pieces.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def _produce(self):
        pieces = queue.SimpleQueue()
        cancel = _ophtha.CancelFlag()
        outcome = {}

        def work():
            try:
                outcome["raw"] = self._run(pieces.put, cancel)
            except BaseException as error:  # handed to the consumer, raised there
                outcome["error"] = error
            finally:
                pieces.put(self._END)

        worker = threading.Thread(target=work, name="ophtha-generate", daemon=True)
        worker.start()
        try:
            while True:
                piece = pieces.get()
                if piece is self._END:
                    break
                yield piece
        finally:
            cancel.set()
            worker.join()
        if "error" in outcome:
            raise outcome.pop("error")
        self.result = self._finish(outcome["raw"])

    @staticmethod
    def _finish(raw):
        return _generation(raw)


class ReportStream(GenerationStream):
    """An iterator over the pieces of a report's text, as the model writes it.

    As GenerationStream: the pieces (non-empty ``str`` of whole characters) concatenate to the
    report's text, the report is written on a worker thread from the first ``next()``, and
    ``close()`` ends it early. After the last piece, ``result`` is the Report (its structured JSON
    is read from the whole text). The images are read when the stream is made, so an image that
    cannot be read raises there; an error of the writing (e.g. a language the bundle lacks) is
    raised by ``next()``.
    """

    #: The Report, once every piece has been read; None before that or after close().
    result: Optional[Report]

    @staticmethod
    def _finish(raw):
        return report_of(raw)


def _int32(name, value):
    value = int(value)
    if not _INT32[0] <= value <= _INT32[1]:
        raise InvalidArgumentError(f"{name} is {value}, expected a 32-bit integer")
    return value


def _token_array(ids):
    """`ids` (a sequence or 1-D array of integers) as a contiguous int32 array, range-checked."""
    array = np.asarray(ids)
    if array.size == 0 and array.ndim <= 1:
        return np.empty(0, dtype=np.int32)
    if array.ndim != 1 or array.dtype.kind not in "iu":
        raise InvalidArgumentError(
            f"detokenize: expected a 1-D sequence of integer token ids, got an array of dtype {array.dtype} "
            f"and shape {array.shape}")
    if array.min() < _INT32[0] or array.max() > _INT32[1]:
        raise InvalidArgumentError(
            f"detokenize: token ids must fit in 32 bits, got values in [{array.min()}, {array.max()}]")
    return np.ascontiguousarray(array, dtype=np.int32)


class Session:
    """A generation context on a model: KV cache, scratch memory and random state (ophtha_session).

    One generation runs on a session at a time (a second call from another thread waits for the
    first); give each thread its own session to generate in parallel on one model. Every
    ``generate`` starts from an empty context, so the same prompt, seed and parameters give the
    same text whatever ran before. A context manager: ``with model.session() as s: ...``.
    """

    def __init__(self, model, *, n_threads=0, context_length=0):
        """Creates a session on `model` (a Model) with `n_threads` compute threads (0: every core
        this process may use) and a KV cache of `context_length` tokens (0: the model's)."""
        self._session = _ophtha.Session(model._handle(), _int32("n_threads", n_threads),
                                        _int32("context_length", context_length))

    @property
    def context_length(self):
        """Tokens the session's KV cache holds."""
        return self._session.context_length

    @property
    def closed(self):
        """True once close() has been called."""
        return self._session.closed

    def close(self):
        """Frees the KV cache now (waiting for a generation running on another thread); idempotent."""
        self._session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def generate(self, prompt, *, max_tokens=_DEFAULTS["max_tokens"], temperature=_DEFAULTS["temperature"],
                 top_k=_DEFAULTS["top_k"], top_p=_DEFAULTS["top_p"], min_p=_DEFAULTS["min_p"],
                 repeat_penalty=_DEFAULTS["repeat_penalty"], repeat_last_n=_DEFAULTS["repeat_last_n"],
                 seed=_DEFAULTS["seed"], bos=_DEFAULTS["add_bos"], ignore_eos=_DEFAULTS["ignore_eos"], stop=(),
                 stream=False, on_text=None, should_abort=None, poll_interval=_ophtha.DEFAULT_POLL_SECONDS):
        """Generates text after `prompt` (str, or UTF-8 bytes).

        Sampling follows llama.cpp's order: repeat penalty → top-k → top-p → min-p → temperature →
        seeded draw; ``temperature <= 0`` is greedy. The same seed, parameters and prompt give the
        same tokens on every platform and thread count.

        Args:
            max_tokens: tokens generated at most.
            temperature: <= 0 for greedy (argmax).
            top_k: keep the k most likely tokens; <= 0: off.
            top_p: nucleus sampling threshold in (0, 1]; 1: off.
            min_p: keep tokens with p >= min_p * p_max; <= 0: off.
            repeat_penalty: > 0; 1: off.
            repeat_last_n: the penalty's window; 0: off, -1: the whole history.
            seed: the random seed, an integer in [0, 2**64).
            bos: start the prompt with the BOS token.
            ignore_eos: keep generating past the end-of-sequence token.
            stop: a str or a sequence of non-empty str; generation ends before the first one
                appears, and it is not part of the text.
            stream: return a GenerationStream of text pieces instead of waiting for the text.
            on_text: ``on_text(piece)`` is called on this thread with each non-empty piece of
                text (whole characters) as it is generated; a true return ends generation
                (stop reason CANCELLED). Not together with ``stream=True``.
            should_abort: ``should_abort()`` is called about every `poll_interval` seconds; a true
                return stops generation with AbortedError (no text is returned).
            poll_interval: seconds between checks of should_abort and of Ctrl-C (KeyboardInterrupt
                is raised from the main thread within about this time).

        Returns:
            A Generation (the text as a str, with tokens, stop_reason and timings), or with
            ``stream=True`` a GenerationStream.

        Raises:
            InvalidArgumentError: a parameter out of range (the message names it), an empty
                prompt without BOS, an empty stop string, a NUL character in prompt or stop.
            ContextOverflowError: the prompt has more tokens than the session's context.
            AbortedError: should_abort returned true.
            KeyboardInterrupt, or whatever on_text / should_abort raised, as is.
        """
        if isinstance(stop, (str, bytes)):
            stop = [stop]
        seed = int(seed)
        if not 0 <= seed < 2 ** 64:
            raise InvalidArgumentError(f"seed is {seed}, expected an integer in [0, 2**64)")
        arguments = dict(
            prompt=prompt, max_tokens=_int32("max_tokens", max_tokens), temperature=float(temperature),
            top_k=_int32("top_k", top_k), top_p=float(top_p), min_p=float(min_p),
            repeat_penalty=float(repeat_penalty), repeat_last_n=_int32("repeat_last_n", repeat_last_n), seed=seed,
            add_bos=bool(bos), ignore_eos=bool(ignore_eos), stop=list(stop), should_abort=should_abort,
            poll_seconds=float(poll_interval))
        if stream:
            if on_text is not None:
                raise InvalidArgumentError("generate: pass on_text or stream=True, not both")
            return GenerationStream(
                lambda put, cancel: self._session.generate(on_text=put, cancel=cancel, **arguments))
        return _generation(self._session.generate(on_text=on_text, cancel=None, **arguments))

    def report(self, images=(), *, findings="", lang="en", stream=False, seed=_REPORT_DEFAULTS["seed"],
               temperature=None, max_tokens=None, top_p=None, candidates=None, candidate_temperature=None,
               evidence_weight=None, line_drafts=None, sentence_insertions=None, guided_drafts=None,
               drop_unsupported=None, check_images=_REPORT_DEFAULTS["check_images"],
               modality_threshold=_REPORT_DEFAULTS["modality_threshold"], on_text=None, should_abort=None,
               poll_interval=_ophtha.DEFAULT_POLL_SECONDS):
        """Writes the diagnostic report of one study (the session's model must be a model bundle).

        Every call starts from an empty context: the same images, findings, seed and parameters
        give the same text.

        Args:
            images: a list of the study's images, any modalities and eyes ([] for the text-only
                route, which needs findings). Each is one of
                  - an ``ophtha.Image`` (it carries its modality and eye);
                  - a tuple ``(source, modality, eye)`` or a dict ``{"path" or "array": source,
                    "modality": ..., "eye": ...}``, where source is a file path (str, bytes,
                    os.PathLike) or a numpy uint8/uint16 array (H, W) or (H, W, 1|3|4), and
                    modality / eye are an ophtha.Modality / Eye, its value or its name ("cfp",
                    "OD"; any case);
                  - a bare file path named as the synthetic studies are,
                    ``<study>_<OD|OS>_<cfp|oct|osa>.<ext>`` (e.g. syn-000033_OD_cfp.jpg), which
                    gives its eye and modality.
                Arrays are read as Image.from_array reads them: rows straight from the array's
                buffer when each row's pixels are contiguous, a contiguous copy otherwise.
            findings: the instruments' findings text.
            lang: "en" or "zh": one of the bundle's languages.
            stream: return a ReportStream of text pieces instead of waiting for the report.
            seed: the random seed, an integer in [0, 2**64).
            temperature: >= 0 (0: greedy); None: the bundle's.
            max_tokens: tokens generated at most, > 0; None: the bundle's.
            top_p: nucleus threshold in (0, 1]; None: the bundle's.
            candidates: drafts per report, 1 to 128; None: the bundle's. With N > 1 the report is
                drafted N times after one shared prompt pass — the first draft at ``temperature``,
                the others sampled at ``candidate_temperature`` — and the draft whose findings and
                grades agree most with the others' is returned (minimum Bayes risk); it streams
                whole, once chosen. 1: one draft, streamed as it is generated.
            candidate_temperature: > 0, the sampled drafts' temperature; None: the bundle's.
            evidence_weight: in [0, 100], how much the auxiliary heads' reading of the images and
                the labels the findings text states weigh in choosing among drafts (1: as much as
                all the other drafts together; 0: the drafts vote among themselves only); None:
                the bundle's.
            line_drafts: 0 to 128, line refinement: each sentence of each line of the chosen draft
                is drafted this many more times from the report so far (at
                ``candidate_temperature``) and the sentence whose completed report agrees most with
                the others and the evidence is kept; the
                report then streams whole, once refined. 0: none; None: the bundle's.
            sentence_insertions: 0 to 16, with line refinement the most sentences it may insert in
                a line: a drafted sentence goes in before the draft's when the line then states
                all its findings and more and the report agrees better with the others and the
                evidence (Report.inserted_sentences counts them). 0: none; None: the bundle's.
            guided_drafts: 0 to 16, with sentence insertions and the evidence weighed, alternatives
                per finding the evidence holds for a line's eye and modality that the report does
                not state, each starting with the finding's name and written on by the model; one
                goes in only as an insertion that agrees better (Report.guided_sentences counts
                them). 0: none; None: the bundle's.
            drop_unsupported: True drops the report's list items that state only findings the
                evidence reads absent — the auxiliary heads' reading of a gradable image of that
                eye and modality, or the findings text, without the finding (the structured report
                is read from the text so pruned); False keeps them; None: the bundle's (the demo
                drops them). A streamed one-draft report keeps them.
            check_images: let the auxiliary heads check that each image looks like its modality
                (one that looks like another is left out; Report.image_checks says what they saw).
            modality_threshold: probability of another modality that leaves an image out.
            on_text, should_abort, poll_interval: as for generate; ``on_text`` not together with
                ``stream=True``.

        Returns:
            A Report, or with ``stream=True`` a ReportStream whose ``result`` is the Report.

        Raises:
            InvalidArgumentError: a bad image spec, modality or eye (the message names the image),
                an empty array, no images and no findings, a language the bundle lacks, a
                parameter out of range.
            IoError, InvalidFormatError, UnsupportedError: an image file that cannot be read or
                decoded (the message names the file); UnsupportedError also when the model is not a
                model bundle.
            ContextOverflowError, AbortedError, KeyboardInterrupt, or whatever on_text /
            should_abort raised, as for generate.
        """
        arguments = _report_arguments(images, findings, lang, max_tokens, temperature, top_p, candidates,
                                      candidate_temperature, evidence_weight, line_drafts, sentence_insertions, guided_drafts,
                                      drop_unsupported, seed, check_images, modality_threshold, should_abort, poll_interval)
        if stream:
            if on_text is not None:
                raise InvalidArgumentError("report: pass on_text or stream=True, not both")
            return ReportStream(lambda put, cancel: self._session.report(on_text=put, cancel=cancel, **arguments))
        return report_of(self._session.report(on_text=on_text, cancel=None, **arguments))


def _report_arguments(images, findings, lang, max_tokens, temperature, top_p, candidates, candidate_temperature,
                      evidence_weight, line_drafts, sentence_insertions, guided_drafts, drop_unsupported, seed,
                      check_images, modality_threshold, should_abort, poll_interval):
    """The extension's report arguments, checked; `images` converted to _ophtha.Image objects."""
    if isinstance(images, (str, bytes, os.PathLike, np.ndarray, dict, Image)):
        raise InvalidArgumentError(
            f"report: images is a {type(images).__name__}, expected a list of images (a one-image study is [image])")
    seed = int(seed)
    if not 0 <= seed < 2 ** 64:
        raise InvalidArgumentError(f"seed is {seed}, expected an integer in [0, 2**64)")
    if max_tokens is not None and int(max_tokens) <= 0:
        raise InvalidArgumentError(f"max_tokens is {max_tokens}, expected a positive integer or None (the bundle's)")
    if temperature is not None and float(temperature) < 0:
        raise InvalidArgumentError(f"temperature is {temperature}, expected >= 0 (0: greedy) or None (the bundle's)")
    if top_p is not None and not 0 < float(top_p) <= 1:
        raise InvalidArgumentError(f"top_p is {top_p}, expected a value in (0, 1] or None (the bundle's)")
    if candidates is not None and not 1 <= int(candidates) <= 128:
        raise InvalidArgumentError(f"candidates is {candidates}, expected an integer in [1, 128] or None (the bundle's)")
    if candidate_temperature is not None and not float(candidate_temperature) > 0:
        raise InvalidArgumentError(
            f"candidate_temperature is {candidate_temperature}, expected > 0 or None (the bundle's)")
    if evidence_weight is not None and not 0 <= float(evidence_weight) <= 100:
        raise InvalidArgumentError(
            f"evidence_weight is {evidence_weight}, expected a number in [0, 100] or None (the bundle's)")
    if line_drafts is not None and not 0 <= int(line_drafts) <= 128:
        raise InvalidArgumentError(f"line_drafts is {line_drafts}, expected an integer in [0, 128] or None (the bundle's)")
    if sentence_insertions is not None and not 0 <= int(sentence_insertions) <= 16:
        raise InvalidArgumentError(
            f"sentence_insertions is {sentence_insertions}, expected an integer in [0, 16] or None (the bundle's)")
    if guided_drafts is not None and not 0 <= int(guided_drafts) <= 16:
        raise InvalidArgumentError(
            f"guided_drafts is {guided_drafts}, expected an integer in [0, 16] or None (the bundle's)")
    if drop_unsupported is not None and not isinstance(drop_unsupported, bool):
        raise InvalidArgumentError(
            f"drop_unsupported is {drop_unsupported!r}, expected True, False or None (the bundle's)")
    return dict(
        images=[study_image(spec, f"images[{i}]") for i, spec in enumerate(images)],
        findings=findings, lang=lang,
        # None → the C ABI's "the bundle's own value": max_tokens 0, temperature and top_p < 0.
        max_tokens=0 if max_tokens is None else _int32("max_tokens", max_tokens),
        temperature=-1.0 if temperature is None else float(temperature),
        top_p=-1.0 if top_p is None else float(top_p),
        # None → 0: the bundle's drafts and their temperature.
        candidates=0 if candidates is None else int(candidates),
        candidate_temperature=0.0 if candidate_temperature is None else float(candidate_temperature),
        # The C ABI's evidence_weight: 0 the bundle's, < 0 none.
        evidence_weight=0.0 if evidence_weight is None else float(evidence_weight) if float(evidence_weight) > 0 else -1.0,
        # The C ABI's line_drafts: 0 the bundle's, < 0 none.
        line_drafts=0 if line_drafts is None else int(line_drafts) if int(line_drafts) > 0 else -1,
        sentence_insertions=0 if sentence_insertions is None else int(sentence_insertions) if int(sentence_insertions) > 0 else -1,
        guided_drafts=0 if guided_drafts is None else int(guided_drafts) if int(guided_drafts) > 0 else -1,
        # The C ABI's drop_unsupported: 0 the bundle's, > 0 drop, < 0 keep.
        drop_unsupported=0 if drop_unsupported is None else 1 if drop_unsupported else -1,
        seed=seed, check_images=bool(check_images),
        modality_threshold=float(modality_threshold), should_abort=should_abort, poll_seconds=float(poll_interval))


def _signature_of(source: Any, summary: str) -> Callable[[Any], Any]:
    """A decorator giving a forwarding function `source`'s signature (for help() and inspect) and
    `summary` followed by `source`'s docstring."""
    def decorate(function: Any) -> Any:
        function.__signature__ = inspect.signature(source)
        function.__doc__ = summary + "\n\n" + inspect.cleandoc(source.__doc__ or "")
        return function
    return decorate


class Model:
    """A loaded LLaMA2-architecture language model and its tokenizer, or a model bundle (the language
    model with its vision encoder, projector and prompt templates), which also writes reports and
    embeds images (ophtha_model).

    The model is immutable: any number of threads may tokenize and generate with it at once
    (each generation runs on a Session; ``Model.generate`` uses one session of its own, so its
    calls take turns). A context manager: ``with ophtha.Model(path) as model: ...``.
    """

    def __init__(self, path, *, n_threads=0, context_length=0, progress=None):
        """Loads `path`: a .gguf file (F32, F16, BF16, Q8_0, Q4_0), a Hugging Face folder
        (config.json + safetensors + tokenizer.model), or a model-bundle folder (ophtha-bundle.json;
        docs/formats.md). Weights are memory-mapped read-only.

        Args:
            n_threads, context_length: for the session ``generate`` uses (see Session).
            progress: ``progress(fraction)`` is called about every 50 ms during the load with
                the fraction done; a true return cancels the load (AbortedError).

        Raises:
            IoError, InvalidFormatError (the message names the file, tensor and shapes),
            UnsupportedError, AbortedError, InvalidArgumentError.
        """
        self._path = os.fspath(path)
        self._model = _ophtha.Model(os.fsencode(path), progress, _ophtha.DEFAULT_POLL_SECONDS)
        self._session_options = dict(n_threads=n_threads, context_length=context_length)
        self._session = None
        self._session_lock = threading.Lock()

    def _handle(self):
        return self._model

    @property
    def path(self):
        """The path the model was loaded from."""
        return self._path

    @property
    def n_vocab(self):
        """Tokens in the vocabulary."""
        return self._model.n_vocab

    @property
    def context_length(self):
        """The model's context length in tokens."""
        return self._model.context_length

    @property
    def bos_id(self):
        """The beginning-of-sequence token id."""
        return self._model.bos_id

    @property
    def eos_id(self):
        """The end-of-sequence token id."""
        return self._model.eos_id

    @property
    def closed(self):
        """True once close() has been called."""
        return self._model.closed

    @property
    def has_vision(self):
        """True when the model was loaded from a model bundle (a folder with ophtha-bundle.json),
        so that it can write reports (report) and embed images (embed)."""
        return self._model.has_vision

    def embed(self, image, modality=None, eye=None):
        """The projected embeddings of one image: what the language model reads in its <image>
        slot, a float32 array of shape (n_tokens, dim), dim being the language model's.

        `image` is any image report() accepts; for a path or a numpy array, `modality` and `eye`
        (or a tuple / dict) give its modality and eye. Thread-safe: threads may embed at once.
        Raises UnsupportedError when the model is not a model bundle, and as report() for images.
        """
        if modality is not None or eye is not None:
            if not isinstance(image, (str, bytes, os.PathLike, np.ndarray)):
                raise InvalidArgumentError(
                    f"embed: modality and eye go with a path or an array, not a {type(image).__name__}")
            image = (image, modality, eye)
        return self._model.embed(study_image(image, "image"))

    def tokenize(self, text, bos=True, *, as_array=False):
        """The token ids of `text` (str, or bytes: invalid UTF-8 becomes U+FFFD as in SentencePiece),
        with the BOS id first when `bos`; a list of int, or an int32 numpy array with `as_array`."""
        ids = self._model.tokenize(text, bool(bos))
        return ids if as_array else ids.tolist()

    def detokenize(self, ids):
        """The text of token ids (a sequence or 1-D array of integers), as SentencePiece's DecodeIds
        gives it. Raises InvalidArgumentError for an id outside [0, n_vocab) (naming its index)."""
        return self._model.detokenize(_token_array(ids))

    def session(self, *, n_threads=0, context_length=0):
        """A new Session on this model (see Session)."""
        return Session(self, n_threads=n_threads, context_length=context_length)

    @_signature_of(Session.generate, "Session.generate on the model's own session, created at the first call with\n"
                                     "the n_threads and context_length given to Model; calls from several threads\n"
                                     "take turns.")
    def generate(self, prompt, **options):
        return self._own_session().generate(prompt, **options)

    def _own_session(self):
        with self._session_lock:
            if self._session is None:
                self._session = Session(self, **self._session_options)
        return self._session

    @_signature_of(Session.report, "Session.report on the model's own session (the one generate uses); calls from\n"
                                   "several threads take turns.")
    def report(self, images=(), **options):
        return self._own_session().report(images, **options)

    def close(self):
        """Frees the model's session and the model now; idempotent. Sessions made with
        session() keep working. Any later call on the model raises InvalidArgumentError."""
        with self._session_lock:
            if self._session is not None:
                self._session.close()
        self._model.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __repr__(self):
        state = "closed" if self.closed else f"n_vocab={self.n_vocab}, context_length={self.context_length}"
        return f"ophtha.Model({self.path!r}, {state})"
