"""Model.report, Model.embed and Model.has_vision on a model bundle of seeded random weights
(tests/tools/make_random_bundle.py) and the bundled example study (examples/images). The text is
meaningless; what is pinned down is the behaviour: streaming, the structured JSON, the image
checks, seeds, the image forms report() accepts, and the errors."""
import json

import numpy as np
import pytest

import ophtha
from conftest import EXAMPLE_IMAGES

OD_CFP = EXAMPLE_IMAGES / "syn-000033_OD_cfp.jpg"
OS_OCT = EXAMPLE_IMAGES / "syn-000033_OS_oct.png"
STRUCTURED_KEYS = {"schema", "language", "eyes", "referral", "follow_up_months", "disclaimer", "image_checks",
                   "dropped_findings", "model", "text"}
IMAGE_CHECK_KEYS = {"modality", "eye", "looks_like", "looks_like_probability", "gradable_probability", "used"}


def test_has_vision_tells_a_bundle_from_a_plain_language_model(bundle, model):
    assert bundle.has_vision is True
    assert model.has_vision is False


def test_report_text_structured_json_and_timings(bundle):
    report = bundle.report([OD_CFP, (OS_OCT, "oct", "OS")], findings="CFP OD: drusen", max_tokens=8)
    assert isinstance(report, ophtha.Report) and str(report) == report.text and report.text
    assert STRUCTURED_KEYS <= set(report.structured), f"missing keys: {STRUCTURED_KEYS - set(report.structured)}"
    assert report.structured["schema"] == "ophtha.structured_report/1" and report.structured["language"] == "en"
    assert report.structured["text"] == report.text
    assert report.disclaimer == report.structured["disclaimer"] and "no clinical validity" in report.disclaimer
    assert 0 < report.n_generated_tokens <= 8 and report.n_prompt_tokens > 0
    assert report.embed_seconds > 0 and report.prefill_seconds > 0 and report.decode_seconds > 0


def test_image_checks_count_one_per_image_in_input_order_unless_turned_off(bundle):
    images = [(OD_CFP, "cfp", "OD"), (OS_OCT, "oct", "OS"), EXAMPLE_IMAGES / "syn-000033_OD_osa.png"]
    report = bundle.report(images, findings="x", max_tokens=2)
    assert len(report.image_checks) == 3
    assert [(c["modality"], c["eye"]) for c in report.image_checks] == [("cfp", "OD"), ("oct", "OS"), ("osa", "OD")]
    assert all(set(c) == IMAGE_CHECK_KEYS for c in report.image_checks)
    assert bundle.report(images, findings="x", max_tokens=2, check_images=False).image_checks == []


def test_streamed_pieces_concatenate_to_the_report_text(bundle):
    stream = bundle.report([OD_CFP], findings="x", max_tokens=12, stream=True)
    assert isinstance(stream, ophtha.ReportStream) and stream.result is None
    pieces = list(stream)
    assert pieces and all(isinstance(p, str) and p for p in pieces)
    assert isinstance(stream.result, ophtha.Report) and "".join(pieces) == stream.result.text
    assert stream.result.text == bundle.report([OD_CFP], findings="x", max_tokens=12).text


def test_on_text_receives_the_pieces_of_the_text(bundle):
    pieces = []
    report = bundle.report([OD_CFP], findings="x", max_tokens=6, on_text=pieces.append)
    assert "".join(pieces) == report.text


def test_drafts_stream_the_chosen_report_whole_and_say_which_was_chosen(bundle):
    pieces = []
    report = bundle.report([OD_CFP], findings="x", max_tokens=10, candidates=3, candidate_temperature=1.5, seed=4,
                           on_text=pieces.append)
    assert pieces == [report.text]
    assert report.n_candidates == 3 and 0 <= report.chosen_candidate < 3
    one = bundle.report([OD_CFP], findings="x", max_tokens=10, seed=4)
    assert one.n_candidates == 1 and one.chosen_candidate == 0
    assert one.drafts == [one.text]
    # Every draft in the order written: the first at the report temperature (that of the single
    # report above), the chosen one the text.
    assert len(report.drafts) == 3 and report.drafts[report.chosen_candidate] == report.text
    assert report.drafts[0] == one.text
    assert all(isinstance(d, str) for d in report.drafts)
    for weight in (0, 2.5):  # the drafts alone, and the heads' and findings text's evidence weighed in
        weighed = bundle.report([OD_CFP], findings="x", max_tokens=10, candidates=3, candidate_temperature=1.5,
                                seed=4, evidence_weight=weight)
        assert weighed.n_candidates == 3 and 0 <= weighed.chosen_candidate < 3
    # Line refinement: the chosen draft's lines drafted again; the report streams whole.
    pieces.clear()
    refined = bundle.report([OD_CFP], findings="x", max_tokens=10, candidates=3, candidate_temperature=1.5, seed=4,
                            line_drafts=2, on_text=pieces.append)
    assert pieces == [refined.text] and report.refined_lines == 0
    assert refined.drafts == report.drafts  # the same drafts, refined afterwards
    chosen = refined.drafts[refined.chosen_candidate]
    assert (refined.text == chosen) == (refined.refined_lines == 0), (refined.refined_lines, refined.text, chosen)
    assert bundle.report([OD_CFP], findings="x", max_tokens=10, candidates=3, candidate_temperature=1.5, seed=4,
                         line_drafts=0).refined_lines == 0
    # Sentence insertions: the random bundle's sentences name no finding, so none goes in; without
    # insertions the report is the same.
    # Guided alternatives, likewise: whatever the evidence holds, a random bundle's guided sentence
    # is scored as any other insertion and none wins here.
    for insertions, guided in ((0, 0), (4, 0), (4, 2)):
        inserted = bundle.report([OD_CFP], findings="x", max_tokens=10, candidates=3, candidate_temperature=1.5, seed=4,
                                 line_drafts=2, sentence_insertions=insertions, guided_drafts=guided)
        assert inserted.inserted_sentences == 0 and inserted.text == refined.text
        assert inserted.guided_sentences == 0
        assert inserted.dropped_sentences == 0  # none contradicts or repeats a sentence
    # Unsupported findings dropped or kept: the random bundle's sentences state none, so the report
    # is the same either way (the demo's reports: tests/python/test_demo_model.py).
    for drop in (True, False):
        assert bundle.report([OD_CFP], findings="x", max_tokens=10, candidates=3, candidate_temperature=1.5, seed=4,
                             line_drafts=2, drop_unsupported=drop).text == refined.text


def test_same_seed_same_text_and_another_seed_another(bundle):
    run = lambda seed: bundle.report([OD_CFP], findings="x", max_tokens=16, temperature=1.0, seed=seed).text
    assert run(7) == run(7)
    assert run(7) != run(8)


def test_a_session_of_its_own_writes_the_report_the_model_writes(bundle):
    with bundle.session(n_threads=1) as session:
        assert session.report([OD_CFP], findings="x", max_tokens=6).text == \
            bundle.report([OD_CFP], findings="x", max_tokens=6).text


def test_every_image_form_gives_the_same_report(bundle):
    pixels = ophtha.Image.from_file(OD_CFP, "cfp", "OD").to_array()
    forms = [OD_CFP, str(OD_CFP), (OD_CFP, ophtha.Modality.CFP, ophtha.Eye.OD), {"path": OD_CFP, "modality": "CFP", "eye": "od"},
             ophtha.Image.from_file(OD_CFP, "cfp", "OD"), (pixels, "cfp", "OD"), {"array": pixels, "modality": 1, "eye": 1}]
    texts = {bundle.report([form], findings="x", max_tokens=6).text for form in forms}
    assert len(texts) == 1, f"the forms gave {len(texts)} different texts"


def test_uint16_and_rgba_arrays_and_strided_rows_are_accepted(bundle):
    rgb = ophtha.Image.from_file(OD_CFP, "cfp", "OD").to_array()
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    gray16 = (rgb[..., 1].astype(np.uint16) * 257)
    rgb16 = rgb.astype(np.uint16) * 257
    wide = np.zeros((rgb.shape[0], rgb.shape[1] + 16, 3), np.uint8)
    wide[:, :rgb.shape[1]] = rgb
    for array in (rgba, gray16, rgb16, wide[:, :rgb.shape[1]]):
        report = bundle.report([(array, "cfp", "OD")], findings="x", max_tokens=2)
        assert report.n_generated_tokens > 0
    # The same pixels as RGBA (opaque) and as a strided view give the RGB image's report.
    text = lambda array: bundle.report([(array, "cfp", "OD")], findings="x", max_tokens=6).text
    assert text(rgba) == text(rgb) == text(wide[:, :rgb.shape[1]])


def test_embed_gives_tokens_by_llm_dim_float32(bundle, bundle_path):
    config = json.loads((bundle_path / "ophtha-bundle.json").read_text())
    assert config["name"] == "random-bundle-seed4"
    embedding = bundle.embed(OD_CFP)
    assert embedding.dtype == np.float32 and embedding.shape == (4, 64)  # --pool 2 → 2 x 2 tokens; --dim 64
    assert np.isfinite(embedding).all() and embedding.std() > 0
    again = bundle.embed(ophtha.Image.from_file(OD_CFP, "cfp", "OD"))
    np.testing.assert_array_equal(embedding, again)
    as_oct = bundle.embed(OD_CFP, "oct", "OD")  # another modality's preprocessing
    assert as_oct.shape == (4, 64) and not np.array_equal(as_oct, embedding)
    gray16 = bundle.embed(np.full((40, 50), 30000, np.uint16), modality="oct", eye="OS")
    assert gray16.shape == (4, 64)


def test_report_and_embed_on_a_plain_language_model_raise_unsupported(model):
    with pytest.raises(ophtha.UnsupportedError, match="not a model bundle"):
        model.report([OD_CFP], findings="x")
    with pytest.raises(ophtha.UnsupportedError, match="ophtha_image_embed"):
        model.embed(OD_CFP)


@pytest.mark.parametrize("images, options, error, fragment", [
    ([("/no/such/image.png", "cfp", "OD")], {}, ophtha.IoError, "/no/such/image.png"),
    ([(OD_CFP, "fundus", "OD")], {}, ophtha.InvalidArgumentError, "images[0]: modality is 'fundus'"),
    ([(OD_CFP, "cfp", "left")], {}, ophtha.InvalidArgumentError, "images[0]: eye is 'left'"),
    ([OD_CFP, "/tmp/scan.png"], {}, ophtha.InvalidArgumentError, "images[1]: 'scan.png' does not say its eye"),
    ([np.zeros((8, 8), np.uint8)], {}, ophtha.InvalidArgumentError, "images[0]: an array needs its modality"),
    ([(np.zeros((8, 8), np.float32), "cfp", "OD")], {}, ophtha.InvalidArgumentError, "uint8 or uint16"),
    ([(np.zeros((8, 8, 2), np.uint8), "cfp", "OD")], {}, ophtha.InvalidArgumentError, "channels"),
    ([{"path": OD_CFP, "modality": "cfp"}], {}, ophtha.InvalidArgumentError, "images[0] is a dict"),
    ([], {}, ophtha.InvalidArgumentError, "no findings"),
    ([OD_CFP], {"lang": "fr"}, ophtha.InvalidArgumentError, "fr"),
    ([OD_CFP], {"max_tokens": 0}, ophtha.InvalidArgumentError, "max_tokens is 0"),
    ([OD_CFP], {"temperature": -1}, ophtha.InvalidArgumentError, "temperature is -1"),
    ([OD_CFP], {"candidates": 0}, ophtha.InvalidArgumentError, "candidates is 0"),
    ([OD_CFP], {"candidates": 129}, ophtha.InvalidArgumentError, "candidates is 129"),
    ([OD_CFP], {"candidate_temperature": 0}, ophtha.InvalidArgumentError, "candidate_temperature is 0"),
    ([OD_CFP], {"evidence_weight": -1}, ophtha.InvalidArgumentError, "evidence_weight is -1"),
    ([OD_CFP], {"line_drafts": 129}, ophtha.InvalidArgumentError, "line_drafts is 129, expected an integer in [0, 128]"),
    ([OD_CFP], {"sentence_insertions": 17}, ophtha.InvalidArgumentError,
     "sentence_insertions is 17, expected an integer in [0, 16]"),
    ([OD_CFP], {"guided_drafts": 17}, ophtha.InvalidArgumentError, "guided_drafts is 17, expected an integer in [0, 16]"),
    ([OD_CFP], {"drop_unsupported": 1}, ophtha.InvalidArgumentError,
     "drop_unsupported is 1, expected True, False or None"),
    ([OD_CFP], {"evidence_weight": float("nan")}, ophtha.InvalidArgumentError, "evidence_weight is nan"),
])
def test_bad_input_raises_the_error_class_with_the_message(bundle, images, options, error, fragment):
    with pytest.raises(error) as raised:
        bundle.report(images, **{"max_tokens": 2, **options})
    assert fragment in str(raised.value)


def test_a_single_image_instead_of_a_list_is_refused(bundle):
    with pytest.raises(ophtha.InvalidArgumentError, match="expected a list of images"):
        bundle.report(OD_CFP, findings="x")


def test_streaming_raises_an_image_error_at_the_call_and_a_writing_error_from_next(bundle):
    with pytest.raises(ophtha.IoError, match="/no/such/image.png"):
        bundle.report([("/no/such/image.png", "cfp", "OD")], stream=True)
    stream = bundle.report([OD_CFP], lang="fr", stream=True)
    with pytest.raises(ophtha.InvalidArgumentError, match="fr"):
        next(stream)
