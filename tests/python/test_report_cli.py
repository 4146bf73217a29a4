"""`ophtha report`, the main job, on a bundle of seeded random weights
(tests/tools/make_random_bundle.py) and the bundled example study (examples/images): the text is
meaningless, the contract is not.

    ophtha report --image PATH[:MODALITY[:EYE]] ... [--findings TEXT] [--lang zh|en] [--json]
                  [--model DIR] [--seed S] [--temp T] [--max-tokens N] [--no-image-checks]
                  [--candidates N] [--candidate-temp T] [--line-drafts N] [--drafts]
"""
import json
import subprocess
import sys

import pytest

from conftest import REPO, describe

EXAMPLE = REPO / "examples" / "images"
SCHEMA = REPO / "docs" / "structured_report.schema.json"


@pytest.fixture(scope="module")
def bundle(work_dir):
    folder = work_dir / "report-cli-bundle"  # rewritten every run (half a second): never stale
    subprocess.run([sys.executable, str(REPO / "tests" / "tools" / "make_random_bundle.py"), "--out", str(folder),
                    "--seed", "5"], check=True)
    return folder


def example_images():
    args = []
    for eye in ("OD", "OS"):
        for modality, ext in (("cfp", "jpg"), ("oct", "png"), ("osa", "png")):
            args += ["--image", f"{EXAMPLE}/syn-000033_{eye}_{modality}.{ext}:{modality}:{eye}"]
    return args


def test_json_report_follows_the_schema_and_holds_the_streamed_text(ophtha, bundle):
    import jsonschema
    common = ["report", "--model", bundle, *example_images(), "--max-tokens", "16", "--threads", "1"]
    streamed = ophtha.ok(*common)
    structured = json.loads(ophtha.ok(*common, "--json").stdout)
    jsonschema.validate(structured, json.loads(SCHEMA.read_text(encoding="utf-8")))
    disclaimer = "Random test model: its output is meaningless and has no clinical validity."
    assert structured["disclaimer"] == disclaimer
    assert streamed.stdout.startswith(disclaimer + "\n\n")
    assert streamed.stdout[len(disclaimer) + 2:].rstrip("\n") == structured["text"]
    assert [(c["modality"], c["eye"]) for c in structured["image_checks"]] == [
        (m, e) for e in ("OD", "OS") for m in ("cfp", "oct", "osa")]
    assert structured["dropped_findings"] == []  # the random bundle prunes nothing (it states no finding)


def test_drafts_are_given_in_order_with_the_chosen_one_when_asked(ophtha, bundle):
    import jsonschema
    common = ["report", "--model", bundle, *example_images()[:2], "--max-tokens", "10", "--threads", "1",
              "--seed", "3", "--temp", "0"]
    greedy = json.loads(ophtha.ok(*common, "--json").stdout)
    assert "drafts" not in greedy and "chosen" not in greedy
    # --keep-repeats: the report is then the chosen draft exactly (by default its repeated mentions go).
    drafted = ["--candidates", "3", "--candidate-temp", "1.5", "--drafts", "--keep-repeats"]
    structured = json.loads(ophtha.ok(*common, *drafted, "--json").stdout)
    jsonschema.validate(structured, json.loads(SCHEMA.read_text(encoding="utf-8")))
    drafts, chosen = structured["drafts"], structured["chosen"]
    assert len(drafts) == 3 and drafts[chosen] == structured["text"]
    assert drafts[0] == greedy["text"]  # the first draft is at --temp, as the report written once
    # One draft: the report itself. Streamed text: the drafts follow on stderr, the chosen one marked.
    assert json.loads(ophtha.ok(*common, "--json", "--drafts").stdout)["drafts"] == [greedy["text"]]
    streamed = ophtha.ok(*common, *drafted)
    assert streamed.stderr.count("--- draft ") == 3
    assert f"--- draft {chosen + 1} of 3 (the report) ---\n{drafts[chosen]}\n" in streamed.stderr


def test_same_seed_same_report_and_no_image_checks_when_asked(ophtha, bundle):
    common = ["report", "--model", bundle, *example_images()[:4], "--temp", "0.8", "--seed", "9", "--max-tokens", "12",
              "--no-image-checks", "--json", "--lang", "zh"]
    first, second = ophtha.many([common, common])
    assert first.returncode == 0 and second.returncode == 0, describe(first)
    a, b = json.loads(first.stdout), json.loads(second.stdout)
    assert a["text"] == b["text"] and a["language"] == "zh"
    assert a["image_checks"] == []


def test_text_only_route_and_bad_input_are_handled(ophtha, bundle, tmp_path):
    assert ophtha.ok("report", "--model", bundle, "--findings", "CFP OD: microaneurysms", "--max-tokens", "4").stdout
    (tmp_path / "empty.png").write_bytes(b"")
    cases = [
        (["report", "--model", bundle], "give at least one --image or --findings"),
        (["report", "--model", bundle, "--findings", "x", "--lang", "fr"], "expects zh or en"),
        (["report", "--model", bundle, "--findings", "x", "--line-drafts", "129"], "expects an integer in [0, 128]"),
        (["report", "--model", tmp_path / "nowhere", "--findings", "x"], "model bundle folder"),
        (["report", "--model", bundle, "--image", f"{tmp_path / 'empty.png'}:cfp:OD"], "empty.png"),
        (["report", "--model", bundle, "--image", f"{EXAMPLE}/syn-000033_OD_cfp.jpg:xyz:OD"], "expected PATH:MODALITY:EYE"),
    ]
    for args, fragment in cases:
        result = ophtha(*args)
        assert result.returncode != 0, describe(result)
        assert result.stderr.count("\n") == 1 and fragment in result.stderr, describe(result)
