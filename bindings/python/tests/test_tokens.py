"""Model.tokenize / detokenize against SentencePiece (the reference) on the LLaMA 2 tokenizer."""
import numpy as np
import pytest

import ophtha

TEXTS = [
    "Hello world",
    "The fundus photograph shows drusen in the macula.",
    " leading space",
    "two  spaces\tand a tab\nand a newline",
    "眼底照相显示视网膜出血",
    "OCT: 黄斑水肿 (DME), 视力 0.3 🙂👁️",
    "",
    "a",
    "\u00e9\u0301 combining",
    "🦀🦀🦀 byte fallback ✓",
]


@pytest.mark.parametrize("text", TEXTS)
def test_tokenize_equals_sentencepiece_with_and_without_bos(model, sentencepiece_llama2, text):
    expected = sentencepiece_llama2.encode(text)
    assert model.tokenize(text, bos=False) == expected, f"tokenize({text!r}, bos=False)"
    assert model.tokenize(text) == [sentencepiece_llama2.bos_id()] + expected, f"tokenize({text!r})"


@pytest.mark.parametrize("data", [b"ok \xff\xfe then \xe7\x9c text", b"\xe7\x9c", b"a\xffb", b"\xf0\x9f\x99",
                                  "眼底".encode()])
def test_tokenize_of_bytes_with_invalid_utf8_equals_sentencepiece(model, sentencepiece_llama2, data):
    assert model.tokenize(data, bos=False) == sentencepiece_llama2.encode(data), f"tokenize({data!r})"


def test_tokenize_as_array_gives_int32(model):
    ids = model.tokenize("眼底", as_array=True)
    assert isinstance(ids, np.ndarray) and ids.dtype == np.int32 and ids.ndim == 1
    assert ids.tolist() == model.tokenize("眼底")


@pytest.mark.parametrize("text", TEXTS)
def test_detokenize_equals_sentencepiece_decode(model, sentencepiece_llama2, text):
    ids = sentencepiece_llama2.encode(text)
    assert model.detokenize(ids) == sentencepiece_llama2.decode(ids)
    assert model.detokenize(np.array(ids, dtype=np.int64)) == sentencepiece_llama2.decode(ids)


def test_detokenize_of_random_ids_equals_sentencepiece_decode(model, sentencepiece_llama2):
    rng = np.random.default_rng(5)
    for _ in range(20):
        ids = rng.integers(0, model.n_vocab, size=int(rng.integers(1, 40))).tolist()
        assert model.detokenize(ids) == sentencepiece_llama2.decode(ids), f"ids {ids}"


def test_model_facts_equal_the_tokenizer(model, sentencepiece_llama2):
    assert model.n_vocab == sentencepiece_llama2.get_piece_size()
    assert model.bos_id == sentencepiece_llama2.bos_id()
    assert model.eos_id == sentencepiece_llama2.eos_id()
    assert model.context_length == 256


def test_detokenize_names_the_bad_id_and_its_index(model):
    with pytest.raises(ophtha.InvalidArgumentError, match=r"tokens\[2\] is 32000, expected an id in \[0, 32000\)"):
        model.detokenize([1, 2, 32000])
    with pytest.raises(ophtha.InvalidArgumentError, match=r"tokens\[0\] is -1"):
        model.detokenize([-1])


@pytest.mark.parametrize("ids, message", [
    ([[1, 2], [3, 4]], "1-D sequence of integer token ids"),
    ([1.5, 2.0], "dtype float64"),
    (["a"], "integer token ids"),
    ([2 ** 40], "32 bits"),
])
def test_detokenize_refuses_what_is_not_a_list_of_ids(model, ids, message):
    with pytest.raises(ophtha.InvalidArgumentError, match=message):
        model.detokenize(ids)


def test_detokenize_of_nothing_is_empty(model):
    assert model.detokenize([]) == ""
