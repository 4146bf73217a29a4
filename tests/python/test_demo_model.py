"""The bundled demo model (models/demo, trained by scripts/train-demo.sh on synthetic images only).

What a new user meets first: `ophtha report` with no --model writes a report with it, says that
it was trained on synthetic images, refuses to describe an image given as the wrong modality,
reports an ungradable image as ungradable, and grades studies rendered from a seed it never saw
about as well as docs/training.md records (smaller samples here, so wider margins); its disc and
tile readers read what the whole field misses.
"""
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO

DEMO = REPO / "models" / "demo"
EXAMPLE = REPO / "examples" / "images"
SCHEMA = REPO / "docs" / "structured_report.schema.json"


def example_images(eyes=("OD", "OS"), modalities=(("cfp", "jpg"), ("oct", "png"), ("osa", "png"))):
    args = []
    for eye in eyes:
        for modality, ext in modalities:
            args += ["--image", f"{EXAMPLE}/syn-000033_{eye}_{modality}.{ext}:{modality}:{eye}"]
    return args


def test_the_demo_bundle_is_in_the_repository_and_small():
    manifest = json.loads((DEMO / "ophtha-bundle.json").read_text(encoding="utf-8"))
    assert "synthetic" in manifest["disclaimer"]
    size = sum(p.stat().st_size for p in DEMO.rglob("*") if p.is_file())
    assert size <= 25 * 1024 * 1024, f"models/demo holds {size} bytes, more than the 25 MB the repository allows"


def test_report_without_model_uses_the_demo_and_says_it_is_synthetic(ophtha):
    import jsonschema
    streamed = ophtha.ok("report", *example_images(), "--lang", "en", "--threads", "1")
    structured = json.loads(ophtha.ok("report", *example_images(), "--lang", "en", "--json", "--threads", "1").stdout)
    jsonschema.validate(structured, json.loads(SCHEMA.read_text(encoding="utf-8")))
    assert "synthetic" in structured["disclaimer"]
    assert streamed.stdout.startswith(structured["disclaimer"] + "\n\n")
    assert all(c["used"] for c in structured["image_checks"]), structured["image_checks"]
    assert set(structured["eyes"]) == {"OD", "OS"}
    for eye in ("OD", "OS"):
        assert set(structured["eyes"][eye]["imaged"]) == {"cfp", "oct", "osa"}, structured["eyes"][eye]


def test_an_oct_given_as_a_fundus_photograph_is_flagged_and_not_described(ophtha):
    oct_as_cfp = ["--image", f"{EXAMPLE}/syn-000033_OD_oct.png:cfp:OD"]
    result = json.loads(ophtha.ok("report", *oct_as_cfp, *example_images(("OS",)), "--json", "--lang", "en",
                                  "--threads", "1").stdout)
    check = result["image_checks"][0]
    assert (check["modality"], check["eye"], check["looks_like"], check["used"]) == ("cfp", "OD", "oct", False), check
    assert "OD" not in result["eyes"] or "cfp" not in result["eyes"]["OD"].get("imaged", []), result["eyes"]


def test_an_ungradable_image_is_reported_as_ungradable(ophtha, tmp_path):
    ophtha.ok("synth", "--out", tmp_path / "s", "--studies", "60", "--seed", "78", "--split", "0,0,1",
              "--threads", "2", timeout=300)
    ungradable = []
    for line in (tmp_path / "s" / "manifest.jsonl").read_text(encoding="utf-8").splitlines():
        study = json.loads(line)
        for image in study["images"]:
            labels = study["labels"][image["eye"]]
            if image["modality"] in labels.get("ungradable", []):
                ungradable.append((tmp_path / "s" / image["path"], image["modality"], image["eye"]))
    assert ungradable, "seed 78 gave no ungradable image: pick a seed that does"
    stated = 0
    for path, modality, eye in ungradable[:4]:
        out = json.loads(ophtha.ok("report", "--image", f"{path}:{modality}:{eye}", "--json", "--lang", "en",
                                   "--threads", "1").stdout)
        stated += modality in out["eyes"].get(eye, {}).get("ungradable", [])
    assert stated >= min(3, len(ungradable)), f"only {stated} of {len(ungradable[:4])} ungradable images were reported so"


@pytest.fixture(scope="module")
def fresh(ophtha, tmp_path_factory):
    """40 studies rendered from a seed the demo never saw (77), all in the test split."""
    data = tmp_path_factory.mktemp("fresh")
    ophtha.ok("synth", "--out", data, "--studies", "40", "--seed", "77", "--split", "0,0,1", "--threads", "2",
              timeout=300)
    return data


def scored(ophtha, data, out, *report_args):
    """Reports of the fresh split (report_args: --text-only, --langs, ...) scored by ophtha eval: metrics.json."""
    pred = out / "pred.jsonl"
    ophtha.ok("report", "--manifest", data / "manifest.jsonl", "--split", "test", "--out", pred, "--jobs", "2",
              *report_args, timeout=900)
    ophtha.ok("eval", "--manifest", data / "manifest.jsonl", "--predictions", pred, "--out", out / "eval")
    return json.loads((out / "eval" / "metrics.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def fresh_reports(ophtha, fresh, tmp_path_factory):
    """The fresh studies' image-route reports with the bundle's defaults, scored: metrics.json."""
    return scored(ophtha, fresh, tmp_path_factory.mktemp("fresh-reports"))


def test_fresh_studies_are_graded_close_to_the_documented_figures(fresh_reports):
    metrics = fresh_reports
    # Floors below what docs/training.md records on the 200-study test split (seed 2), wide enough
    # for 40 studies; a demo bundle that regresses below them should not land.
    # These 40 studies, as the current synthesizer renders them, scored (2026-12-02, the bundled
    # demo with 14 vision epochs: 64 drafts weighed against the heads' reading (at twice all the
    # other drafts) and the examinations made, each sentence of the chosen one refined with 64
    # alternatives, up to 4 sentences inserted a line, ties kept in the wording the alternatives
    # share, one guided alternative per finding the heads read and the report lacks, repeats left
    # out) ROUGE-L 0.577 / 0.526, F1 0.858 / 0.861, ICDR 0.956 / 0.933, AREDS 1.000 / 1.000, C/D
    # 0.978 / 0.978, OCT class 1.000 / 1.000 (zh / en; with the evidence weighed at 1, 2026-12-01:
    # ROUGE-L 0.571 / 0.527, F1 0.861 / 0.867; ROUGE-L 0.567 / 0.524, F1 0.854 / 0.849 without
    # guided alternatives; ROUGE-L 0.568 / 0.515, F1 0.840 / 0.842 with the draft's own wording;
    # F1 0.829 / 0.838 without insertions; with the disc reader, 2026-12-02: F1 0.886 in English).
    floors = {"rouge_l": 0.48, "macro_f1": 0.55, "icdr": 0.75, "areds": 0.90, "cup_disc": 0.88, "oct_class": 0.90}
    for lang in ("zh", "en"):
        text, clinical = metrics["languages"][lang]["text"], metrics["languages"][lang]["clinical"]
        measured = {"rouge_l": text["rouge_l"], "macro_f1": clinical["macro_f1"]}
        measured.update({scale: clinical["grades"][scale]["accuracy"] for scale in ("icdr", "areds", "cup_disc", "oct_class")})
        low = {k: round(v, 3) for k, v in measured.items() if v < floors[k]}
        assert not low, f"{lang}: below the floor {floors}: {low} (all: {measured})"


def test_line_refinement_states_the_findings_better_than_the_chosen_drafts(ophtha, fresh, fresh_reports, tmp_path):
    # The bundle refines each sentence of the chosen draft with 64 alternatives (docs/reports.md,
    # "Line refinement"); without it the chosen drafts are the reports. On 230 validation studies
    # that took findings F1 from 0.747 / 0.756 to 0.815 / 0.819; on these 40 studies (English) from
    # 0.772 to 0.861 (2026-12-02, the evidence weighed at 2; at 1, 2026-12-01: from 0.760 to 0.867,
    # 0.849 without guided alternatives, 0.842 keeping the draft's wording in ties, 0.838 without
    # sentence insertions, 0.793 refining whole lines).
    unrefined = scored(ophtha, fresh, tmp_path, "--line-drafts", "0", "--langs", "en")
    before = unrefined["languages"]["en"]["clinical"]["macro_f1"]
    after = fresh_reports["languages"]["en"]["clinical"]["macro_f1"]
    assert after >= before + 0.015, (before, after)


def test_guided_alternatives_state_findings_the_heads_read_that_no_draft_names(ophtha, fresh, fresh_reports, tmp_path):
    # Where a sentence may be inserted, the bundle also drafts one alternative begun with the name of
    # each finding the heads read and the report lacks (docs/reports.md, "Guided alternatives"),
    # weighed as an insertion like any other. On the 200-study test and fresh splits that took
    # findings F1 from 0.834 / 0.837 to 0.847 / 0.851 and from 0.812 / 0.820 to 0.827 / 0.836; on
    # these 40 studies (English) from 0.849 to 0.867 (2026-12-01), and with the evidence weighed at
    # 2 from 0.844 to 0.861 (2026-12-02).
    unguided = scored(ophtha, fresh, tmp_path, "--guided-drafts", "0", "--langs", "en")
    before = unguided["languages"]["en"]["clinical"]["macro_f1"]
    after = fresh_reports["languages"]["en"]["clinical"]["macro_f1"]
    assert after >= before + 0.005, (before, after)


def scored_without(ophtha, fresh, tmp_path, reader, findings):
    """The fresh studies' English reports by a copy of the demo without its `reader` (which must read
    `findings`), scored: the clinical metrics."""
    without = tmp_path / f"without-{reader}"
    shutil.copytree(DEMO, without)
    manifest = json.loads((without / "ophtha-bundle.json").read_text(encoding="utf-8"))
    assert manifest[reader]["findings"] == findings, manifest[reader]
    del manifest[reader]
    (without / "ophtha-bundle.json").write_text(json.dumps(manifest), encoding="utf-8")
    return scored(ophtha, fresh, tmp_path, "--model", without, "--langs", "en")["languages"]["en"]["clinical"]


def test_the_disc_reader_reads_disc_haemorrhages_the_whole_field_misses(ophtha, fresh, fresh_reports, tmp_path):
    # The bundle's disc reader reads disc haemorrhage and rim thinning on a crop around the optic
    # disc (docs/training.md, "Disc reader"). On the 200-study test and fresh splits it took disc
    # haemorrhage F1 from 0.53 to 0.97 and from 0.53 to 0.91 (English), findings F1 from 0.864 to
    # 0.879 and from 0.853 to 0.867; on these 40 studies (English, 9 eyes with a disc haemorrhage)
    # from 0.375 to 0.941, and findings F1 from 0.861 to 0.886 (2026-12-02).
    whole_field = scored_without(ophtha, fresh, tmp_path, "disc_reader", ["disc_haemorrhage", "rim_thinning"])
    with_reader = fresh_reports["languages"]["en"]["clinical"]
    before, after = whole_field["findings"]["disc_haemorrhage"]["f1"], with_reader["findings"]["disc_haemorrhage"]["f1"]
    assert after >= before + 0.3, (before, after)
    assert with_reader["macro_f1"] >= whole_field["macro_f1"], (whole_field["macro_f1"], with_reader["macro_f1"])


def test_the_tile_reader_reads_flame_haemorrhages_irma_and_new_vessels_the_whole_field_misses(ophtha, fresh, fresh_reports,
                                                                                              tmp_path):
    # The bundle's tile reader reads flame haemorrhages, IRMA and new vessels as the largest over
    # 3 x 3 tiles of each fundus photograph (docs/training.md, "Tile reader"). On the 200-study test
    # split the first two took findings F1 from 0.879 to 0.891 and ICDR from 0.923 to 0.928
    # (English); on these 40 studies (English) flame haemorrhages from 0.50 to 0.91, IRMA from 0.96
    # to 1.00 and findings F1 from 0.886 to 0.906 (2026-12-02). New vessels as a third (2026-12-03):
    # on the test split new vessels 0.789 → 0.937, findings F1 0.899 → 0.905, ICDR 0.923 → 0.953
    # (English); on these 40 studies (English, 8 eyes with new vessels) new vessels 0.667 → 1.000,
    # flame haemorrhages 0.500 → 0.909, IRMA 0.909 → 1.000, findings F1 0.892 → 0.925, ICDR
    # 0.933 → 1.000.
    readers = ["flame_haemorrhages", "irma", "neovascularisation"]
    whole_field = scored_without(ophtha, fresh, tmp_path, "tile_reader", readers)
    with_reader = fresh_reports["languages"]["en"]["clinical"]
    f1 = lambda clinical: sum(clinical["findings"][f]["f1"] for f in readers) / len(readers)
    assert f1(with_reader) >= f1(whole_field) + 0.15, (f1(whole_field), f1(with_reader))
    assert with_reader["macro_f1"] >= whole_field["macro_f1"], (whole_field["macro_f1"], with_reader["macro_f1"])
    assert with_reader["findings"]["neovascularisation"]["f1"] > whole_field["findings"]["neovascularisation"]["f1"]


def test_reports_name_each_finding_once_and_state_what_they_stated_with_repeats(ophtha, fresh, fresh_reports, tmp_path):
    # The pipeline drops list items that only name a finding the line already named
    # (report_pruning.hpp); --keep-repeats gives the reports as written. On the 200-study test split
    # that took the repeated mentions from 395 / 295 to 0 / 0 (zh / en), BLEU-4 from 0.517 / 0.377
    # to 0.542 / 0.389, every clinical figure the same (2026-12-02).
    kept = scored(ophtha, fresh, tmp_path, "--keep-repeats", "--langs", "en")["languages"]["en"]
    dropped = fresh_reports["languages"]["en"]
    assert kept["repetitions"] >= 10, kept["repetitions"]
    assert dropped["repetitions"] <= 2, dropped["repetitions"]
    assert dropped["clinical"] == kept["clinical"]  # the same labels read from every report
    assert dropped["text"]["bleu"][3] > kept["text"]["bleu"][3], (kept["text"]["bleu"], dropped["text"]["bleu"])


def test_recommendations_follow_the_grades_each_report_states(ophtha, fresh_reports, tmp_path):
    # A referral or follow-up interval at odds with the report's own grades counts against a draft
    # and a sentence as a contradiction does (report_extractor.hpp referral_conflicts,
    # follow_up_conflicts). On the 200-study test split that took them from 25 + 34 / 16 + 30 eyes
    # (en / zh, referral + follow-up) to 2 + 3 / 1 + 3 (2026-12-03; 2 + 5 / 1 + 3 once the tile reader
    # read new vessels as well). The README's example study, in the
    # manifest's order (each eye's CFP, OCT, meibography), was referred "OU: refer immediately"
    # for a left eye that needs a referral within 3 months.
    for lang in ("zh", "en"):
        scores = fresh_reports["languages"][lang]
        assert scores["referral_conflicts"] + scores["follow_up_conflicts"] <= 4, (lang, scores["recommendation_conflicting_ids"])
        assert scores["grade_repetitions"] <= 2, (lang, scores["grade_repeating_ids"])
    example = scored(ophtha, EXAMPLE, tmp_path)["languages"]
    for lang in ("zh", "en"):
        assert example[lang]["referral_conflicts"] == example[lang]["follow_up_conflicts"] == 0, lang


def test_findings_the_evidence_reads_absent_are_dropped_and_every_grade_kept(ophtha, fresh, fresh_reports, tmp_path):
    # The pipeline drops list items stating only findings the evidence (the heads' reading of a
    # gradable image of that eye and modality) reads absent (report_pruning.hpp);
    # --keep-unsupported keeps them. On the 200-study test split that took findings macro F1 from
    # 0.886 / 0.891 to 0.903 / 0.902 (zh / en), every grade the same (2026-12-02).
    kept = scored(ophtha, fresh, tmp_path, "--keep-unsupported", "--langs", "en")["languages"]["en"]["clinical"]
    dropped = fresh_reports["languages"]["en"]["clinical"]
    errors = lambda clinical, kind: sum(f[kind] for f in clinical["findings"].values())
    assert errors(dropped, "false_positives") <= errors(kept, "false_positives") - 5, (kept, dropped)
    assert errors(dropped, "false_negatives") <= errors(kept, "false_negatives") + 2, (kept, dropped)
    assert dropped["macro_f1"] > kept["macro_f1"], (kept["macro_f1"], dropped["macro_f1"])
    assert dropped["grades"] == kept["grades"]  # a report's grades never change
    # Each report lists what went: exactly the findings the kept report's eyes state and its eyes do not.
    def reports(path):
        lines = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]
        return {(p["id"], p["lang"]): p["structured"] for p in lines}
    with_all, pruned = reports(tmp_path / "pred.jsonl"), reports(fresh_reports["predictions"])
    listed = 0
    for key, structured in pruned.items():
        if key not in with_all:  # the kept reports are English only
            continue
        went = sorted((eye, finding) for eye, labels in with_all[key]["eyes"].items() for finding in labels["findings"]
                      if finding not in structured["eyes"].get(eye, {}).get("findings", []))
        assert sorted((d["eye"], d["finding"]) for d in structured["dropped_findings"]) == went, key
        assert with_all[key]["dropped_findings"] == []
        listed += len(went)
    assert listed >= 5
    # Without --json the same report (one thread, as each batch job has) names on stderr what went.
    studies = {s["id"]: s for s in map(json.loads, (fresh / "manifest.jsonl").read_text(encoding="utf-8").splitlines())}
    key = next(k for k in sorted(pruned) if k[1] == "en" and pruned[k]["dropped_findings"])
    images = [arg for image in studies[key[0]]["images"]
              for arg in ("--image", f"{fresh / image['path']}:{image['modality']}:{image['eye']}")]
    plain = ophtha.ok("report", *images, "--lang", "en", "--threads", "1")
    assert plain.stdout.rstrip("\n").endswith(pruned[key]["text"]), (plain.stdout, pruned[key]["text"])
    went = ", ".join(f"{d['eye']} {d['finding']}" for d in pruned[key]["dropped_findings"])
    assert f"note: left out as the images or the findings text read them absent: {went}\n" in plain.stderr, plain.stderr


def test_the_findings_text_as_evidence_picks_drafts_that_state_its_grades(ophtha, fresh, tmp_path):
    # The text-only route: the instruments' findings text is in the prompt and, with the bundle's
    # evidence_weight, also weighs in choosing among the 64 drafts. On docs/training.md's test
    # split that took ICDR from 0.86-0.87 to 0.94-0.97; without the evidence the drafts vote alone.
    # These 40 studies (2026-12-01, the demo with 14 vision epochs, 64 drafts and 64 sentence
    # drafts, up to 4 sentences inserted a line): ICDR 1.000 against 0.933, the six grades'
    # accuracies summing to 5.868 against 5.380 (5.868 against 5.358 without insertions, 5.818
    # against 5.375 refining whole lines).
    grades = {}
    for name, extra in (("evidence", ()), ("alone", ("--evidence-weight", "0"))):
        (tmp_path / name).mkdir()
        metrics = scored(ophtha, fresh, tmp_path / name, "--text-only", "--langs", "en", *extra)
        clinical = metrics["languages"]["en"]["clinical"]
        grades[name] = {scale: clinical["grades"][scale]["accuracy"]
                        for scale in ("icdr", "areds", "cup_disc", "oct_class", "meiboscore_upper", "meiboscore_lower")}
    assert grades["evidence"]["icdr"] >= 0.85, grades
    assert sum(grades["evidence"].values()) > sum(grades["alone"].values()) + 0.1, grades
