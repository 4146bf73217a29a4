"""`ophtha eval` on a tiny manifest and predictions made here, against nltk's corpus_bleu and the
labels the test itself wrote:

    ophtha eval --manifest M --predictions P.jsonl [--lang zh|en] [--split test] [--out DIR]
                [--bleu-smoothing methodN]

Reports are written so that their tokens are obvious (English: lower-case words and numbers split
by spaces; Chinese: one token per character), which lets nltk score the very tokens Ophtha scores.
"""
import json
import math
import random

import pytest
from nltk.translate.bleu_score import SmoothingFunction, corpus_bleu
from PIL import Image

from conftest import describe

WORDS = ("the optic disc is pink with clear margins cup to disc ratio 0.3 macula flat "
         "microaneurysms seen in the posterior pole hard exudates temporal to fovea no "
         "haemorrhages retinal vessels normal calibre drusen small scattered").split()
HANZI = "视盘色淡红边界清杯盘比约黄斑区中心凹反光可见微血管瘤硬性渗出未见出血视网膜血管走行正常玻璃膜疣散在"


def eye_labels(rng):
    """Labels of a CFP-imaged eye that follow the manifest rules (docs/formats.md)."""
    icdr = rng.randrange(5)
    cdr = rng.choice([0.3, 0.5, 0.6, 0.75, 0.9])
    cup = 0 if cdr < 0.55 else 1 if cdr < 0.70 else 2 if cdr < 0.85 else 3
    findings = sorted(rng.sample(["microaneurysms", "hard_exudates", "small_drusen", "rim_thinning"],
                                 rng.randrange(3)))
    referral = "urgent" if icdr >= 3 or cup == 3 else "soon" if icdr == 2 or cup >= 1 else "routine"
    return {"findings": findings, "grades": {"icdr": icdr, "cup_disc": cup}, "vertical_cdr": cdr,
            "imaged": ["cfp"], "ungradable": [], "referral": referral}


LEVEL_NAMES = {"icdr": ["no apparent DR", "mild NPDR", "moderate NPDR", "severe NPDR", "PDR"],
               "cup_disc": ["normal", "early", "moderate", "severe"]}
FOLLOW_UP = {"icdr": [12, 12, 6, 3, 3], "cup_disc": [12, 6, 3, 1]}  # months (structured_report.hpp)
URGENCY = ["routine", "soon", "urgent"]


def structured_report(labels, lang):
    """The structured report of include/ophtha/structured_report.hpp for these labels."""
    eyes = {}
    for eye, eye_labels in labels.items():
        scales = [s for s in ("icdr", "cup_disc") if s in eye_labels["grades"]]
        diagnosis = [{"scale": s, "level": eye_labels["grades"][s],
                      "level_name": LEVEL_NAMES[s][eye_labels["grades"][s]], "text": "diagnosis"} for s in scales]
        months = min([FOLLOW_UP[s][eye_labels["grades"][s]] for s in scales] or [12])
        eyes[eye] = dict(eye_labels, diagnosis=diagnosis, follow_up_months=months, recommendation="see the text")
    return {"schema": "ophtha.structured_report/1", "language": lang, "eyes": eyes,
            "referral": max((e["referral"] for e in labels.values()), key=URGENCY.index),
            "follow_up_months": min(e["follow_up_months"] for e in eyes.values()),
            "disclaimer": "synthetic"}


def english_report(rng):
    return " ".join(rng.choice(WORDS) for _ in range(rng.randrange(12, 30)))


def chinese_report(rng):
    return "".join(rng.choice(HANZI) for _ in range(rng.randrange(15, 40)))


@pytest.fixture()
def dataset(tmp_path):
    """8 test studies and 2 train studies, both eyes, English and Chinese reports."""
    rng = random.Random(7)
    (tmp_path / "images").mkdir()
    studies = []
    for i in range(10):
        sid = f"syn-{i:04d}"
        images = []
        for eye in ("OD", "OS"):
            path = f"images/{sid}_{eye}_cfp.png"
            (tmp_path / path).write_bytes(b"")
            images.append({"path": path, "modality": "cfp", "eye": eye})
        studies.append({"id": sid, "images": images,
                        "labels": {"OD": eye_labels(rng), "OS": eye_labels(rng)},
                        "reports": {"en": english_report(rng), "zh": chinese_report(rng)},
                        "split": "test" if i < 8 else "train"})
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(s, ensure_ascii=False) + "\n" for s in studies), encoding="utf-8")
    return tmp_path, manifest, studies


def write_predictions(path, lines):
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line, ensure_ascii=False)) + "\n"
                            for line in lines), encoding="utf-8")
    return path


def tokens(text, lang):
    return list(text) if lang == "zh" else text.split()


def perturb(text, lang, rng, rate):
    """Drops, replaces or keeps each token."""
    vocabulary = HANZI if lang == "zh" else WORDS
    out = []
    for t in tokens(text, lang):
        r = rng.random()
        if r < rate / 2:
            continue
        out.append(rng.choice(vocabulary) if r < rate else t)
    return ("" if lang == "zh" else " ").join(out)


def perturb_labels(labels, rng):
    out = json.loads(json.dumps(labels))
    for eye in out.values():
        eye["grades"]["icdr"] = (eye["grades"]["icdr"] + rng.choice([1, 2])) % 5
        eye["findings"] = sorted(set(eye["findings"]) ^ {"microaneurysms"})
        eye["referral"] = rng.choice(["routine", "soon", "urgent"])
    return out


def run_eval(ophtha, manifest, predictions, out_dir, *extra):
    result = ophtha.ok("eval", "--manifest", manifest, "--predictions", predictions, "--out", out_dir, *extra)
    metrics = json.loads((out_dir / "metrics.json").read_text(encoding="utf-8"))
    return result, metrics


def references_scored(ophtha, dataset, name):
    """metrics.json's languages of the test split's reference reports scored as predictions."""
    folder, manifest, studies = dataset
    lines = [{"id": s["id"], "lang": lang, "report": s["reports"][lang]}
             for s in studies if s["split"] == "test" for lang in ("en", "zh")]
    return run_eval(ophtha, manifest, write_predictions(folder / f"{name}.jsonl", lines), folder / name)[1]["languages"]


def test_reference_reports_as_predictions_score_perfectly(ophtha, dataset):
    folder, manifest, studies = dataset
    lines = [{"id": s["id"], "lang": lang, "report": s["reports"][lang],
              "structured": structured_report(s["labels"], lang)}
             for s in studies if s["split"] == "test" for lang in ("en", "zh")]
    out = folder / "out"
    result, metrics = run_eval(ophtha, manifest, write_predictions(folder / "p.jsonl", lines), out)
    assert result.stdout == (out / "summary.md").read_text(encoding="utf-8")
    assert metrics["counts"] == {"studies_in_split": 8, "prediction_lines": 16, "malformed_lines": 0,
                                 "unknown_ids": 0, "outside_split": 0, "other_language": 0, "duplicates": 0}
    assert set(metrics["languages"]) == {"en", "zh"}
    for lang, scores in metrics["languages"].items():
        assert scores["missing"] == 0 and scores["predicted"] == 8
        assert scores["text"]["bleu"] == [1.0, 1.0, 1.0, 1.0], lang
        assert scores["text"]["rouge_l"] == pytest.approx(1.0, abs=1e-12)
        assert scores["text"]["cider_d"] == pytest.approx(10.0, abs=1e-9)
        # METEOR of an identical text: (1 - 0.5 / n^3) with n tokens, one chunk; n >= 12 here.
        assert 0.9997 < scores["text"]["meteor_exact"] < 1.0
        clinical = scores["clinical"]
        assert clinical["macro_f1"] == 1.0 and clinical["micro_f1"] == 1.0
        assert clinical["grades"]["icdr"]["accuracy"] == 1.0 and clinical["grades"]["icdr"]["eyes"] == 16
        assert clinical["referral"]["accuracy"] == 1.0
        assert scores["labels_from_structured"] == 8 and scores["extraction_problems"] == []
    for name in ("en_findings_f1.png", "zh_confusion_icdr.png", "en_confusion_cup_disc.png", "zh_confusion_referral.png"):
        with Image.open(out / name) as image:
            assert image.format == "PNG" and image.mode == "RGB" and image.width > 100 and image.height > 100
    assert "| en | 8 | 8 | 0 | 8 | 1.0000 | 1.0000 | 1.0000 | 1.0000 |" in result.stdout


@pytest.mark.parametrize("smoothing", ["method0", "method1", "method4"])
def test_bleu_equals_nltk_corpus_bleu_on_perturbed_reports(ophtha, dataset, smoothing):
    folder, manifest, studies = dataset
    rng = random.Random(11)
    test_studies = [s for s in studies if s["split"] == "test"]
    lines, hypotheses = [], {"en": [], "zh": []}
    for s in test_studies:
        for lang in ("en", "zh"):
            text = perturb(s["reports"][lang], lang, rng, 0.5)
            hypotheses[lang].append(tokens(text, lang))
            lines.append({"id": s["id"], "lang": lang, "report": text,
                          "structured": structured_report(perturb_labels(s["labels"], rng), lang)})
    _, metrics = run_eval(ophtha, manifest, write_predictions(folder / "p.jsonl", lines), folder / "out",
                          "--bleu-smoothing", smoothing)
    assert metrics["bleu_smoothing"] == smoothing
    function = getattr(SmoothingFunction(), smoothing)
    for lang in ("en", "zh"):
        references = [[tokens(s["reports"][lang], lang)] for s in test_studies]
        ours = metrics["languages"][lang]["text"]["bleu"]
        for n in range(1, 5):
            nltk_bleu = corpus_bleu(references, hypotheses[lang], weights=[1.0 / n] * n, smoothing_function=function)
            assert math.isclose(ours[n - 1], nltk_bleu, rel_tol=1e-12, abs_tol=1e-15), (lang, n, ours, nltk_bleu)
        assert ours[0] < 1.0
        clinical = metrics["languages"][lang]["clinical"]
        assert clinical["grades"]["icdr"]["accuracy"] == 0.0  # every icdr grade was shifted
        assert clinical["micro_f1"] < 1.0


def test_bad_lines_unknown_ids_and_missing_studies_are_counted_with_line_numbers(ophtha, dataset):
    folder, manifest, studies = dataset
    test_ids = [s["id"] for s in studies if s["split"] == "test"]
    good = [{"id": sid, "report": next(s for s in studies if s["id"] == sid)["reports"]["en"]} for sid in test_ids[:6]]
    lines = good[:3] + [
        "{not json",                                            # line 4: malformed
        {"id": test_ids[3]},                                    # line 5: no report
        {"id": "syn-9999", "report": "x"},                      # line 6: unknown id
        {"id": "syn-0008", "report": "the optic disc"},         # line 7: a train study
        {"id": test_ids[0], "report": "again"},                 # line 8: repeated
        {"id": test_ids[4], "report": "x", "lang": "fr"},       # line 9: bad lang
    ] + good[3:]                                                # lines 10-12
    predictions = write_predictions(folder / "p.jsonl", lines)
    result, metrics = run_eval(ophtha, manifest, predictions, folder / "out", "--lang", "en")
    assert metrics["counts"] == {"studies_in_split": 8, "prediction_lines": 12, "malformed_lines": 3,
                                 "unknown_ids": 1, "outside_split": 1, "other_language": 0, "duplicates": 1}
    problems = metrics["problems"]
    assert len(problems) == 6
    for line, words in [(4, "not valid JSON"), (5, "report: is missing"), (6, "'syn-9999' is not a study"),
                        (7, "'syn-0008' is a train study"), (8, "already predicted on line 1"),
                        (9, "lang: is the string \"fr\"")]:
        assert any(p.startswith(f"{predictions}:{line}: ") and words in p for p in problems), (line, words, problems)
    en = metrics["languages"]["en"]
    assert en["predicted"] == 6 and en["missing_ids"] == test_ids[6:]
    assert en["clinical"]["missing_predictions"] == 2
    # Missing studies score as empty reports: BLEU below the 6 perfect ones alone.
    assert 0 < en["text"]["bleu"][0] < 1
    assert "| malformed lines | 3 |" in result.stdout


def test_drafts_beside_a_prediction_are_read_and_checked_not_scored(ophtha, dataset):
    folder, manifest, studies = dataset
    test_ids = [s["id"] for s in studies if s["split"] == "test"]
    reference = {s["id"]: s["reports"]["en"] for s in studies}
    lines = [{"id": sid, "report": reference[sid], "drafts": ["x", reference[sid]], "chosen": 1} for sid in test_ids[:3]]
    lines += [
        {"id": test_ids[3], "report": "x", "drafts": "x", "chosen": 0},     # line 4: drafts not an array
        {"id": test_ids[4], "report": "x", "drafts": ["x", 2]},             # line 5: a draft not a string
        {"id": test_ids[5], "report": "x", "drafts": ["x"], "chosen": 1},   # line 6: chosen outside the drafts
        {"id": test_ids[6], "report": "x", "chosen": 0},                    # line 7: chosen without drafts
    ]
    predictions = write_predictions(folder / "p-drafts.jsonl", lines)
    _, metrics = run_eval(ophtha, manifest, predictions, folder / "out-drafts", "--lang", "en")
    assert metrics["counts"]["malformed_lines"] == 4
    for line, words in [(4, "drafts: is the string"), (5, "expected an array of draft texts"),
                        (6, "expected the index of a draft, 0 to 0"),
                        (7, "chosen: given without a non-empty drafts array")]:
        assert any(p.startswith(f"{predictions}:{line}: ") and words in p for p in metrics["problems"]), (line, words)
    en = metrics["languages"]["en"]
    assert en["predicted"] == 3


def test_a_broken_manifest_is_one_error_line_naming_the_line(ophtha, dataset):
    folder, manifest, studies = dataset
    broken = studies[2]
    broken["labels"]["OD"]["grades"]["icdr"] = 9
    manifest.write_text("".join(json.dumps(s, ensure_ascii=False) + "\n" for s in studies), encoding="utf-8")
    result = ophtha("eval", "--manifest", manifest, "--predictions", write_predictions(folder / "p.jsonl", []))
    assert result.returncode != 0, describe(result)
    assert result.stderr.count("\n") == 1
    assert f"{manifest}:3: labels.OD.grades.icdr: is the number 9, expected an integer level 0..4" in result.stderr


def test_lines_without_lang_are_chinese_when_they_hold_hanzi(ophtha, dataset):
    folder, manifest, studies = dataset
    lines = [{"id": s["id"], "report": s["reports"][lang]} for s in studies[:3] for lang in ("en", "zh")]
    _, metrics = run_eval(ophtha, manifest, write_predictions(folder / "p.jsonl", lines), folder / "out")
    assert set(metrics["languages"]) == {"en", "zh"}
    for lang in ("en", "zh"):
        scores = metrics["languages"][lang]
        assert scores["predicted"] == 3 and scores["missing"] == 5
        assert scores["text"]["reports"] == 8
    assert metrics["counts"]["duplicates"] == 0


def test_synthetic_reference_reports_read_back_by_the_extractor_score_perfectly(ophtha, tmp_path):
    """The text path: `ophtha synth` writes studies whose reports state their labels; evaluated as
    predictions (no structured report), the extractor must read every label back."""
    data = tmp_path / "synth"
    ophtha.ok("synth", "--out", data, "--studies", "12", "--seed", "5", "--split", "0,0,1", "--threads", "1",
              timeout=300)
    studies = [json.loads(line) for line in (data / "manifest.jsonl").read_text(encoding="utf-8").splitlines()]
    assert all(s["split"] == "test" for s in studies)
    lines = [{"id": s["id"], "lang": lang, "report": s["reports"][lang]} for s in studies for lang in s["reports"]]
    _, metrics = run_eval(ophtha, data / "manifest.jsonl", write_predictions(tmp_path / "p.jsonl", lines),
                          tmp_path / "out")
    assert set(metrics["languages"]) == {"en", "zh"}
    for lang, scores in metrics["languages"].items():
        assert scores["labels_from_text"] == len(studies) and scores["extraction_problems"] == [], lang
        clinical = scores["clinical"]
        assert clinical["micro_f1"] == 1.0, lang
        assert clinical["macro_f1"] in (1.0, None), lang
        for scale, agreement in clinical["grades"].items():
            assert agreement["accuracy"] in (1.0, None), (lang, scale, agreement)
        assert clinical["referral"]["accuracy"] == 1.0, lang
        assert scores["contradictions"] == 0 and scores["contradicting_ids"] == [], lang  # the writer's reports
        assert scores["repetitions"] == 0 and scores["repeating_ids"] == [], lang

    # Each study given its neighbour's report: the labels no longer match.
    rotated = [{"id": s["id"], "lang": lang, "report": studies[(i + 1) % len(studies)]["reports"][lang]}
               for i, s in enumerate(studies) for lang in s["reports"]]
    _, worse = run_eval(ophtha, data / "manifest.jsonl", write_predictions(tmp_path / "q.jsonl", rotated),
                        tmp_path / "out2")
    for lang, scores in worse["languages"].items():
        clinical = scores["clinical"]
        assert clinical["micro_f1"] < 1.0 or clinical["referral"]["accuracy"] < 1.0, lang
        assert scores["text"]["bleu"][3] < 1.0, lang


def test_reports_that_state_and_deny_a_finding_are_counted_with_their_studies(ophtha, dataset):
    """A finding a report both states and denies for one eye is one contradiction (the labels count
    it as stated); the counts and the studies go into metrics.json and the summary."""
    folder, manifest, studies = dataset
    test_ids = [s["id"] for s in studies if s["split"] == "test"]
    texts = {
        "en": ["Fundus photograph, right eye (OD): microaneurysms and hard exudates. No hard exudates.",  # OD HE
               "Fundus photograph, both eyes (OU): microaneurysms. Left eye (OS): no microaneurysms or drusen. "
               "Right eye (OD): no microaneurysms.",  # OS and OD microaneurysms
               "Fundus photograph, right eye (OD): microaneurysms. Left eye (OS): no microaneurysms."],  # none
        "zh": ["右眼眼底彩照：微动脉瘤及硬性渗出。未见硬性渗出。",  # OD HE
               "双眼眼底彩照：未见硬性渗出。左眼：硬性渗出。",  # OS HE
               "右眼眼底彩照：微动脉瘤。左眼眼底彩照：未见微动脉瘤。"],  # none
    }
    lines = [{"id": sid, "lang": lang, "report": text} for lang in texts for sid, text in zip(test_ids, texts[lang])]
    result, metrics = run_eval(ophtha, manifest, write_predictions(folder / "p.jsonl", lines), folder / "out")
    en, zh = metrics["languages"]["en"], metrics["languages"]["zh"]
    assert (en["contradictions"], en["contradicting_ids"]) == (3, test_ids[:2])
    assert (zh["contradictions"], zh["contradicting_ids"]) == (2, test_ids[:2])
    assert "2 studies' reports both state and deny a finding for one eye (3 eye-finding pairs" in result.stdout
    # The second English report names the left and right eyes' microaneurysms once each: no repetition;
    # the second Chinese one names the left eye's hard exudates once (denied before).
    assert (en["repetitions"], zh["repetitions"]) == (0, 0)


def test_a_finding_named_again_for_an_eye_is_counted_as_a_repetition(ophtha, dataset):
    folder, manifest, studies = dataset
    test_ids = [s["id"] for s in studies if s["split"] == "test"]
    lines = [{"id": test_ids[0], "lang": "en", "report": "Fundus photograph, right eye (OD): microaneurysms, hard exudates "
                                                         "and microaneurysms at the macula. Microaneurysms."},  # 2
             {"id": test_ids[1], "lang": "en", "report": "Fundus photograph, right eye (OD): soft exudates (cotton-wool "
                                                         "spots) and microaneurysms."},  # none: a bracketed synonym
             {"id": test_ids[2], "lang": "zh", "report": "双眼眼底彩照：微动脉瘤。右眼：微动脉瘤。"}]  # 1 (OD)
    result, metrics = run_eval(ophtha, manifest, write_predictions(folder / "p.jsonl", lines), folder / "out")
    en, zh = metrics["languages"]["en"], metrics["languages"]["zh"]
    assert (en["repetitions"], en["repeating_ids"]) == (2, [test_ids[0]])
    assert (zh["repetitions"], zh["repeating_ids"]) == (1, [test_ids[2]])
    assert "1 name a finding of an eye again after its first mention (2 mentions)" in result.stdout


def test_a_grade_stated_again_in_its_line_is_counted_as_a_repeated_grade(ophtha, dataset):
    folder, manifest, studies = dataset
    test_ids = [s["id"] for s in studies if s["split"] == "test"]
    lines = [{"id": test_ids[0], "lang": "en", "report": "Diagnosis: OD: AREDS category 4; ICDR PDR; vertical C/D 0.22; "
                                                         "AREDS category 4. Vertical C/D 0.22."},  # AREDS, C/D: 2
             {"id": test_ids[1], "lang": "en", "report": "Diagnosis: OD: severe non-proliferative diabetic retinopathy, "
                                                         "ICDR grade 3. OS: ICDR grade 3."},  # none: one item, two eyes
             {"id": test_ids[2], "lang": "zh", "report": "印象：左眼：早期青光眼性视杯改变，垂直杯盘比0.63；AREDS 4级；"
                                                         "垂直杯盘比0.63（早期青光眼性视杯改变）。"}]  # 1
    result, metrics = run_eval(ophtha, manifest, write_predictions(folder / "p.jsonl", lines), folder / "out")
    en, zh = metrics["languages"]["en"], metrics["languages"]["zh"]
    assert (en["grade_repetitions"], en["grade_repeating_ids"]) == (2, [test_ids[0]])
    assert (zh["grade_repetitions"], zh["grade_repeating_ids"]) == (1, [test_ids[2]])
    assert "1 grade an eye again on a scale its line already graded (2 statements)" in result.stdout
    assert all(scores["grade_repetitions"] == 0 for scores in references_scored(ophtha, dataset, "refs").values())


def test_an_eye_given_two_different_vertical_cd_values_is_counted_as_a_cd_conflict(ophtha, dataset):
    folder, manifest, studies = dataset
    test_ids = [s["id"] for s in studies if s["split"] == "test"]
    lines = [{"id": test_ids[0], "lang": "en", "report": "Fundus photograph, both eyes (OU): vertical C/D 0.40.\n"
                                                         "Diagnosis: OD: vertical C/D 0.65. OS: vertical C/D 0.55."},  # 2
             {"id": test_ids[1], "lang": "en", "report": "Fundus photograph, right eye (OD): C/D 0.4.\n"
                                                         "Diagnosis: OD: vertical C/D 0.40."},  # none: the same value
             {"id": test_ids[2], "lang": "zh", "report": "右眼眼底彩照：垂直杯盘比0.75。\n印象：右眼：垂直杯盘比0.60。"}]  # 1
    result, metrics = run_eval(ophtha, manifest, write_predictions(folder / "p.jsonl", lines), folder / "out")
    en, zh = metrics["languages"]["en"], metrics["languages"]["zh"]
    assert (en["cup_disc_conflicts"], en["cup_disc_conflicting_ids"]) == (2, [test_ids[0]])
    assert (zh["cup_disc_conflicts"], zh["cup_disc_conflicting_ids"]) == (1, [test_ids[2]])
    assert "1 give one eye two different vertical C/D values (2 eyes; the last counted)" in result.stdout
    # The reference reports (the writer's) never do: scored against themselves, none.
    assert all(scores["cup_disc_conflicts"] == 0 for scores in references_scored(ophtha, dataset, "refs").values())


def test_an_eye_recommended_otherwise_than_its_stated_grades_imply_is_counted_as_a_recommendation_conflict(ophtha, dataset):
    folder, manifest, studies = dataset
    test_ids = [s["id"] for s in studies if s["split"] == "test"]
    lines = [{"id": test_ids[0], "lang": "en", "report": "Fundus photograph, right eye (OD): venous beading.\n"
                                                         "Diagnosis: OD: ICDR severe NPDR.\n"
                                                         "Recommendation: OD: refer within 3 months."},  # urgent: 1
             {"id": test_ids[1], "lang": "en", "report": "Fundus photograph, right eye (OD): venous beading.\n"
                                                         "Diagnosis: OD: ICDR severe NPDR.\n"
                                                         "Recommendation: OD: urgent referral. Review in 6 months."},  # 3: 1
             {"id": test_ids[2], "lang": "zh", "report": "双眼眼底彩照：微动脉瘤。\n印象：双眼：中度非增殖期糖尿病视网膜病变。\n"
                                                         "建议：常规随访，1年后复查。"}]  # both eyes soon: 2
    result, metrics = run_eval(ophtha, manifest, write_predictions(folder / "p.jsonl", lines), folder / "out")
    en, zh = metrics["languages"]["en"], metrics["languages"]["zh"]
    assert (en["referral_conflicts"], en["follow_up_conflicts"], en["recommendation_conflicting_ids"]) == (1, 1, test_ids[:2])
    assert (zh["referral_conflicts"], zh["follow_up_conflicts"], zh["recommendation_conflicting_ids"]) == (2, 0, [test_ids[2]])
    assert ("2 recommend otherwise than their stated grades imply (1 eyes' referral, 1 eyes' follow-up; the stated "
            "referral counted)") in result.stdout
    # The reference reports recommend for every eye what its grades imply: scored against themselves, none.
    assert all(scores["referral_conflicts"] == scores["follow_up_conflicts"] == 0
               for scores in references_scored(ophtha, dataset, "refs").values())


def test_a_grade_the_text_leaves_to_the_findings_is_counted_as_implied(ophtha, dataset):
    folder, manifest, studies = dataset
    test_ids = [s["id"] for s in studies if s["split"] == "test"]
    lines = [{"id": test_ids[0], "lang": "en", "report": "Fundus photograph, right eye (OD): venous beading and IRMA.\n"
                                                         "Diagnosis: OD: AREDS category 1."},  # ICDR (3) implied
             {"id": test_ids[1], "lang": "en", "report": "Fundus photograph, right eye (OD): venous beading.\n"
                                                         "Diagnosis: OD: ICDR severe NPDR; AREDS category 1."},  # none
             {"id": test_ids[2], "lang": "zh", "report": "右眼眼底彩照：微动脉瘤。\n左眼OCT：视网膜内液。"}]  # 4
    result, metrics = run_eval(ophtha, manifest, write_predictions(folder / "p.jsonl", lines), folder / "out")
    en, zh = metrics["languages"]["en"], metrics["languages"]["zh"]
    assert (en["implied_grades"], en["implied_grade_ids"]) == (1, [test_ids[0]])
    # OD: ICDR and AREDS; OS: Kermany class and OCT AMD stage.
    assert (zh["implied_grades"], zh["implied_grade_ids"]) == (4, [test_ids[2]])
    assert "1 leave a grade to the findings, stating it nowhere (1 eye-scale pairs; the implied level counted)" in result.stdout
    # The reference reports grade every scale in words: scored against themselves, none.
    assert all(scores["implied_grades"] == 0 for scores in references_scored(ophtha, dataset, "refs").values())
