"""Model.generate: the same tokens and text as the `ophtha generate` tool, streaming, stop strings,
cancellation and the errors of bad parameters."""
import pytest

import ophtha

PROMPTS = ["The fundus photograph shows", "眼底照相显示视网膜", "OCT 🙂 macula:"]


def cli_generate(ophtha_cli, model_path, prompt, *options):
    """(ids, text) of `ophtha generate` for the same model, prompt and options."""
    common = ["generate", "--model", model_path, "--prompt", prompt, "--threads", "1", "--ignore-eos", *options]
    ids = [int(x) for x in ophtha_cli(*common, "--print-token-ids").split()]
    text = ophtha_cli(*common)
    assert text.endswith("\n"), f"the tool ends its text with a newline: {text!r}"
    return ids, text[:-1]


@pytest.mark.parametrize("prompt", PROMPTS)
def test_greedy_generation_equals_the_command_line_tool(model, model_path, ophtha_cli, prompt):
    ids, text = cli_generate(ophtha_cli, model_path, prompt, "--temp", "0", "-n", "40")
    result = model.generate(prompt, max_tokens=40, temperature=0, ignore_eos=True)
    assert result.tokens == ids, f"prompt {prompt!r}"
    assert result == text and result.text == text, f"prompt {prompt!r}"
    assert result.stop_reason == ophtha.StopReason.TOKEN_LIMIT
    assert result.n_prompt_tokens == len(model.tokenize(prompt))
    assert result.prefill_seconds > 0 and result.decode_seconds > 0


@pytest.mark.parametrize("seed", [7, 1234])
def test_seeded_sampling_equals_the_command_line_tool(model, model_path, ophtha_cli, seed):
    prompt = PROMPTS[1]
    ids, text = cli_generate(ophtha_cli, model_path, prompt, "--temp", "0.8", "--top-k", "40", "--top-p", "0.9",
                             "--min-p", "0.02", "--repeat-penalty", "1.1", "--seed", seed, "-n", "32")
    result = model.generate(prompt, max_tokens=32, temperature=0.8, top_k=40, top_p=0.9, min_p=0.02,
                            repeat_penalty=1.1, seed=seed, ignore_eos=True)
    assert (result.tokens, result.text) == (ids, text), f"seed {seed}"


def test_generated_text_is_the_detokenized_tokens(model):
    result = model.generate(PROMPTS[0], max_tokens=30, temperature=0, ignore_eos=True)
    assert len(result.tokens) == 30
    assert result.text.strip() == model.detokenize(result.tokens).strip()


@pytest.mark.parametrize("prompt", PROMPTS)
def test_streamed_pieces_are_whole_characters_and_concatenate_to_the_text(model, prompt):
    options = dict(max_tokens=60, temperature=0.9, seed=3, ignore_eos=True)
    whole = model.generate(prompt, **options)
    stream = model.generate(prompt, stream=True, **options)
    pieces = list(stream)  # each piece was decoded as strict UTF-8 by the extension
    assert all(isinstance(p, str) and p for p in pieces), pieces
    assert all(p.encode("utf-8").decode("utf-8") == p for p in pieces)
    assert "".join(pieces) == whole.text
    assert stream.result is not None and stream.result.tokens == whole.tokens
    assert len(pieces) > 10, "expected the text to arrive in many pieces"


def test_on_text_receives_the_pieces_on_the_calling_thread(model):
    pieces = []
    result = model.generate(PROMPTS[0], max_tokens=25, temperature=0, ignore_eos=True, on_text=pieces.append)
    assert "".join(pieces) == result.text and len(pieces) > 5


def test_a_true_on_text_return_ends_generation_as_cancelled(model):
    pieces = []
    result = model.generate(PROMPTS[0], max_tokens=100, temperature=0, ignore_eos=True,
                            on_text=lambda p: pieces.append(p) or len(pieces) == 3)
    assert result.stop_reason == ophtha.StopReason.CANCELLED
    assert len(pieces) == 3 and len(result.tokens) < 100


def test_closing_a_stream_early_stops_generation_and_leaves_the_model_usable(model):
    reference = model.generate(PROMPTS[0], max_tokens=30, temperature=0, ignore_eos=True)
    with model.generate(PROMPTS[0], max_tokens=250, temperature=0, ignore_eos=True, stream=True) as stream:
        first = next(stream)
    assert first and stream.result is None
    assert model.generate(PROMPTS[0], max_tokens=30, temperature=0, ignore_eos=True) == reference


def test_stop_string_ends_the_text_before_it(model):
    full = model.generate(PROMPTS[0], max_tokens=40, temperature=0, ignore_eos=True).text
    stop = full[10:14]
    assert stop.strip(), f"pick a stop string from {full!r}"
    result = model.generate(PROMPTS[0], max_tokens=40, temperature=0, ignore_eos=True, stop=[stop, "never seen"])
    assert result.stop_reason == ophtha.StopReason.STRING
    assert result.text == full[:full.index(stop)]
    assert "".join(model.generate(PROMPTS[0], max_tokens=40, temperature=0, ignore_eos=True, stop=stop,
                                  stream=True)) == result.text


def test_a_session_of_its_own_gives_the_same_text_as_the_model(model):
    expected = model.generate(PROMPTS[1], max_tokens=20, temperature=0.7, seed=11, ignore_eos=True)
    with model.session(n_threads=1, context_length=64) as session:
        assert session.context_length == 64
        assert session.generate(PROMPTS[1], max_tokens=20, temperature=0.7, seed=11, ignore_eos=True) == expected
    with pytest.raises(ophtha.InvalidArgumentError, match="closed"):
        session.generate("x")


def test_a_prompt_longer_than_the_context_raises_context_overflow(model):
    with model.session(context_length=16) as session:
        with pytest.raises(ophtha.ContextOverflowError) as raised:
            session.generate("word " * 40, max_tokens=4)
    assert raised.value.status == ophtha.ContextOverflowError.STATUS == 5
    assert "context" in str(raised.value)


@pytest.mark.parametrize("options, field", [
    (dict(top_p=0), "top_p"),
    (dict(temperature=float("nan")), "temperature"),
    (dict(max_tokens=-1), "max_tokens"),
    (dict(repeat_penalty=0), "repeat_penalty"),
    (dict(stop=[""]), "stop_strings"),
    (dict(seed=-1), "seed"),
    (dict(max_tokens=2 ** 40), "max_tokens"),
])
def test_bad_parameters_raise_invalid_argument_naming_the_field(model, options, field):
    with pytest.raises(ophtha.InvalidArgumentError, match=field):
        model.generate(PROMPTS[0], **options)


def test_nul_in_prompt_is_refused_not_truncated(model):
    with pytest.raises(ophtha.InvalidArgumentError, match="NUL"):
        model.generate("before\0after", max_tokens=2)


def test_streaming_reports_errors_from_next(model):
    with model.session(context_length=16) as session:
        stream = session.generate("word " * 40, stream=True)
        with pytest.raises(ophtha.ContextOverflowError):
            next(stream)


def test_stream_and_on_text_together_are_refused(model):
    with pytest.raises(ophtha.InvalidArgumentError, match="not both"):
        model.generate("x", stream=True, on_text=print)


def test_a_callback_calling_back_into_its_own_session_is_refused_not_deadlocked(model):
    with model.session(n_threads=1) as session:
        def reenter(piece):
            session.generate("again", max_tokens=2)
        with pytest.raises(ophtha.InvalidArgumentError, match="inside a callback of its own generate"):
            session.generate(PROMPTS[0], max_tokens=10, on_text=reenter)
        with pytest.raises(ophtha.InvalidArgumentError, match="close was called"):
            session.generate(PROMPTS[0], max_tokens=10, on_text=lambda piece: session.close())
        assert len(session.generate(PROMPTS[0], max_tokens=3, temperature=0).tokens) == 3


def test_a_generation_survives_copy_and_pickle(model):
    import copy
    import pickle
    result = model.generate(PROMPTS[0], max_tokens=8, temperature=0)
    for clone in (copy.copy(result), pickle.loads(pickle.dumps(result))):
        assert type(clone) is ophtha.Generation and clone == result
        assert (clone.tokens, clone.stop_reason, clone.n_prompt_tokens) == (
            result.tokens, result.stop_reason, result.n_prompt_tokens)
