// ophtha report --image PATH[:MODALITY[:EYE]] ... [--findings TEXT] [--lang zh|en] [--json]
//               [--model DIR] [--seed S] [--temp T] [--candidates N] [--candidate-temp T]
//               [--evidence-weight W] [--max-tokens N] [--threads N] [--drafts]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "ophtha/error.hpp"
#include "ophtha/image.hpp"
#include "ophtha/mapped_file.hpp"
#include "ophtha/manifest.hpp"
#include "ophtha/report_pipeline.hpp"

namespace ophtha::cli {

static const char* kReportHelp =
    "usage: ophtha report --image PATH[:MODALITY[:EYE]] [--image ...] [options]\n"
    "Writes the diagnostic report of one study: its images (both eyes, any of the three\n"
    "modalities) and, optionally, the instruments' findings text.\n"
    "  --image PATH[:M[:E]]  an image; M = cfp, oct or osa (default: recognised by the model),\n"
    "                        E = OD or OS (default OD). Repeat for every image of the study.\n"
    "  --findings TEXT       the instruments' findings text (alone: the text-only route)\n"
    "  --lang zh|en          report language (default en)\n"
    "  --json                print the structured report (docs/reports.md) instead of streaming text\n"
    "  --model DIR           model bundle (default: $OPHTHA_MODEL, else the bundled demo model)\n"
    "  --seed S              sampling seed (default 0)\n"
    "  --temp T              temperature (default: the bundle's; 0 = greedy)\n"
    "  --candidates N        drafts per report (default: the bundle's): N > 1 drafts the report N times\n"
    "                        (the first at --temp, the others sampled at --candidate-temp) and keeps\n"
    "                        the one whose findings and grades agree most with the others'; the text\n"
    "                        then prints once chosen instead of streaming. 1 = one draft, streamed\n"
    "                        as generated when there are no line drafts (--line-drafts 0)\n"
    "  --candidate-temp T    temperature of the sampled drafts (default: the bundle's)\n"
    "  --evidence-weight W   how much the model's auxiliary heads (their reading of each image) and\n"
    "                        the --findings text weigh in choosing among drafts: 1 = as much as all\n"
    "                        the other drafts together, 0 = the drafts vote alone (default: the bundle's)\n"
    "  --line-drafts N       line refinement (default: the bundle's; 0 = none): each sentence of each\n"
    "                        line of the chosen draft is drafted N more times from the report so far\n"
    "                        (at --candidate-temp) and the sentence that agrees most with the others\n"
    "                        and the evidence is kept\n"
    "  --sentence-insertions N  with line drafts, the most sentences a line may gain (default: the\n"
    "                        bundle's; 0 = none): a drafted sentence is inserted when the line then\n"
    "                        states all its findings and more and the report agrees better\n"
    "  --guided-drafts N     with sentence insertions, N alternatives per finding the evidence holds\n"
    "                        and the report does not state, each starting with the finding's name\n"
    "                        (default: the bundle's; 0 = none); one goes in only when the report\n"
    "                        then agrees better with the other alternatives and the evidence\n"
    "  --draft-wording       where line alternatives tie on what they state, keep the draft's own\n"
    "                        sentence, and keep its title (default: the wording most alternatives\n"
    "                        share, and the title, or none, most drafts have)\n"
    "  --keep-repeats        keep list items that only name a finding again (default: dropped;\n"
    "                        what the report states is the same either way)\n"
    "  --keep-unsupported    keep list items that state only findings the evidence reads absent\n"
    "                        (the heads' reading of a gradable image of that eye and modality, or the\n"
    "                        findings text, without the finding); default: the bundle's (the demo\n"
    "                        drops them; without --json a note on stderr names those that went)\n"
    "  --drop-unsupported    drop them, whatever the bundle says\n"
    "  --max-tokens N        report length limit in tokens (default: the bundle's)\n"
    "  --threads N           CPU threads (default: all available)\n"
    "  --drafts              also give every draft and the chosen one's index: with --json (and in\n"
    "                        --out lines) as \"drafts\" and \"chosen\"; else printed to stderr after the report\n"
    "  --no-image-checks     do not ask the model's auxiliary heads whether each image looks like its\n"
    "                        modality and is gradable (an image that looks like another is left out)\n"
    "Batch mode: the reports of a manifest's studies, as a predictions file for `ophtha eval`:\n"
    "  --manifest FILE       a study manifest (docs/formats.md); with --out instead of --image\n"
    "  --out PRED.jsonl      one line per study and language: {id, lang, report, structured}\n"
    "                        (+ drafts, chosen with --drafts)\n"
    "  --split S             train, val, test or all (default test)\n"
    "  --langs zh,en         report languages (default: the bundle's)\n"
    "  --limit N             the first N studies of the split only\n"
    "  --text-only           the text-only route: each study's findings text, no image\n"
    "  --jobs N              studies reported at once, one thread each (default 2)\n"
    "The bundled demo model was trained on synthetic images only: its reports have no clinical validity.\n";

namespace {

// The options both modes share: sampling, drafts and the image checks.
void read_decoding_options(const Args& a, ReportOptions& o) {
  o.seed = static_cast<uint64_t>(a.integer_or("--seed", 0, 0, INT64_MAX));
  o.temperature = static_cast<float>(a.number_or("--temp", -1.0, 0.0, 100.0));
  o.candidates = static_cast<int>(a.integer_or("--candidates", 0, 1, kMaxReportCandidates));
  o.candidate_temperature = static_cast<float>(a.number_or("--candidate-temp", -1.0, 1e-3, 100.0));
  o.evidence_weight = static_cast<float>(a.number_or("--evidence-weight", -1.0, 0.0, kMaxEvidenceWeight));
  o.line_drafts = static_cast<int>(a.integer_or("--line-drafts", -1, 0, kMaxReportCandidates));
  o.sentence_insertions = static_cast<int>(a.integer_or("--sentence-insertions", -1, 0, kMaxSentenceInsertions));
  o.guided_drafts = static_cast<int>(a.integer_or("--guided-drafts", -1, 0, kMaxGuidedDrafts));
  o.max_tokens = static_cast<int>(a.integer_or("--max-tokens", 0, 1, 1 << 20));
  o.check_images = !a.flag("--no-image-checks");
  o.central_wording = !a.flag("--draft-wording");
  o.drop_repeats = !a.flag("--keep-repeats");
  if (a.flag("--keep-unsupported") && a.flag("--drop-unsupported"))
    fail(ErrorCode::InvalidArgument, "options --keep-unsupported and --drop-unsupported contradict each other; give one");
  o.drop_unsupported = a.flag("--drop-unsupported") ? 1 : a.flag("--keep-unsupported") ? 0 : -1;
}

// --drafts: every draft in order and the index of the one that became the report. One draft (no
// drafting) is the report itself.
void add_drafts(nlohmann::json& into, const std::vector<std::string>& drafts, size_t chosen, const std::string& text) {
  into["drafts"] = drafts.empty() ? std::vector<std::string>{text} : drafts;
  into["chosen"] = drafts.empty() ? 0 : chosen;
}

struct ImageSpec {
  std::string path;
  std::optional<Modality> modality;
  Eye eye = Eye::OD;
  bool eye_given = false;
};

bool is_modality(const std::string& s) {
  try {
    parse_modality(s);
    return true;
  } catch (const Error&) {
    return false;
  }
}

bool is_eye(const std::string& s) { return s == "OD" || s == "OS" || s == "od" || s == "os"; }

// PATH[:MODALITY[:EYE]], read from the right so that a path may hold ':' itself.
ImageSpec parse_image_spec(const std::string& text) {
  ImageSpec spec;
  std::string rest = text;
  size_t colon = rest.rfind(':');
  if (colon != std::string::npos && is_eye(rest.substr(colon + 1))) {
    spec.eye = parse_eye(rest.substr(colon + 1));
    spec.eye_given = true;
    rest = rest.substr(0, colon);
    colon = rest.rfind(':');
  }
  if (colon != std::string::npos && is_modality(rest.substr(colon + 1))) {
    spec.modality = parse_modality(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
  } else if (spec.eye_given) {
    fail(ErrorCode::InvalidArgument, "--image '{}': expected PATH:MODALITY:EYE with MODALITY cfp, oct or osa", text);
  }
  if (rest.empty()) fail(ErrorCode::InvalidArgument, "--image '{}': the path is empty", text);
  spec.path = rest;
  return spec;
}

// $OPHTHA_MODEL; else the demo model installed beside this executable (<prefix>/share/ophtha/
// models/demo, found from /proc/self/exe so that any --prefix works); else the source tree's.
std::string default_model_dir() {
  if (const char* env = std::getenv("OPHTHA_MODEL"); env && *env) return env;
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const std::filesystem::path installed = (exe.parent_path() / OPHTHA_INSTALLED_MODEL_DIR).lexically_normal();
    if (std::filesystem::is_regular_file(installed / "ophtha-bundle.json", ec)) return installed.string();
  }
  return OPHTHA_DEFAULT_MODEL_DIR;
}

// --manifest: every study of the split, each language, into a predictions file (atomically).
int report_manifest(const Args& a) {
  const Manifest manifest = read_manifest(a.str("--manifest"));
  const std::string out = a.str("--out");
  const std::string split = a.str_or("--split", "test");
  std::vector<const Study*> studies;
  for (const Study& s : manifest.studies)
    if (split == "all" || split_code(s.split) == split) studies.push_back(&s);
  if (split != "all") parse_split(split);  // an unknown split is an error, not an empty run
  const long long limit = a.integer_or("--limit", 0, 1, INT64_MAX);
  if (limit > 0 && static_cast<size_t>(limit) < studies.size()) studies.resize(static_cast<size_t>(limit));

  const std::shared_ptr<const ReportModel> model = ReportModel::load(a.str_or("--model", default_model_dir()));
  StudyReportOptions o;
  o.languages = model->bundle().languages;
  if (a.has("--langs")) {
    o.languages.clear();
    const std::string list = a.str("--langs");
    for (size_t from = 0; from <= list.size();) {
      const size_t comma = std::min(list.find(',', from), list.size());
      const std::string lang = list.substr(from, comma - from);
      if (lang != "zh" && lang != "en")
        fail(ErrorCode::InvalidArgument, "option --langs expects zh and/or en separated by commas, got '{}'", list);
      o.languages.push_back(lang);
      from = comma + 1;
    }
  }
  o.text_only = a.flag("--text-only");
  o.threads = static_cast<int>(a.integer_or("--jobs", 2, 1, 256));
  read_decoding_options(a, o.report);
  const auto start = std::chrono::steady_clock::now();
  o.progress = [&](size_t done, size_t total) {
    if (done % 20 != 0 && done != total) return;
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "report: %zu/%zu, %.1f s, ETA %.0f s\n", done, total, s,
                 s / static_cast<double>(done) * static_cast<double>(total - done));
  };
  std::fprintf(stderr, "%s\n", model->bundle().disclaimer.c_str());
  const std::vector<StudyReport> reports = report_studies(model, manifest, studies, o);
  std::string text;
  const bool with_drafts = a.flag("--drafts");
  for (const StudyReport& r : reports) {
    nlohmann::json line{{"id", r.id}, {"lang", r.lang}, {"report", r.text}, {"structured", r.structured}};
    if (with_drafts) add_drafts(line, r.drafts, r.chosen, r.text);
    text += line.dump() + "\n";
  }
  AtomicFileWriter writer(out);
  writer.write(text.data(), text.size());
  writer.commit();
  std::printf("wrote %s: %zu reports of %zu studies (%s)\n", out.c_str(), reports.size(), studies.size(),
              o.text_only ? "text-only route" : "images");
  return 0;
}

}  // namespace

int run_report(const Args& raw) {
  Args a = raw;
  a.parse({"--image", "--findings", "--lang", "--model", "--seed", "--temp", "--candidates", "--candidate-temp",
           "--evidence-weight", "--line-drafts", "--sentence-insertions", "--guided-drafts", "--max-tokens", "--threads", "--manifest",
           "--out", "--split", "--langs", "--limit", "--jobs"},
          {"--json", "--no-image-checks", "--text-only", "--drafts", "--draft-wording", "--keep-repeats",
           "--keep-unsupported", "--drop-unsupported"});
  if (a.wants_help()) return std::fputs(kReportHelp, stdout), 0;
  if (a.has("--manifest")) return report_manifest(a);

  std::vector<ImageSpec> specs;
  for (const std::string& text : a.all("--image")) specs.push_back(parse_image_spec(text));
  ReportOptions options;
  options.findings = a.str_or("--findings", "");
  options.lang = a.str_or("--lang", "en");
  if (options.lang != "zh" && options.lang != "en")
    fail(ErrorCode::InvalidArgument, "option --lang expects zh or en, got '{}'", options.lang);
  if (specs.empty() && options.findings.empty())
    fail(ErrorCode::InvalidArgument, "give at least one --image or --findings (see `ophtha report --help`)");
  read_decoding_options(a, options);
  const int threads = static_cast<int>(a.integer_or("--threads", 0, 1, 1024));
  const bool json_output = a.flag("--json");

  const std::shared_ptr<const ReportModel> model = ReportModel::load(a.str_or("--model", default_model_dir()));
  std::vector<Image> images;
  for (const ImageSpec& spec : specs) {
    const Modality given = spec.modality ? *spec.modality : Modality::Cfp;
    Image image = Image::decode_file(spec.path, given, spec.eye);
    if (!spec.modality) image.set_modality(model->recognise_modality(image));
    if (!spec.eye_given && !json_output)
      std::fprintf(stderr, "note: no eye given for %s; taken as OD\n", spec.path.c_str());
    images.push_back(std::move(image));
  }

  ReportSession session(model, threads);
  if (!json_output) {
    std::printf("%s\n\n", model->bundle().disclaimer.c_str());
    std::fflush(stdout);
    options.on_text = [](std::string_view piece) {
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
      return true;
    };
  }
  const Report report = session.generate(images, options);
  const bool with_drafts = a.flag("--drafts");
  if (json_output) {
    nlohmann::json out = report.structured;
    if (with_drafts) add_drafts(out, report.drafts, report.chosen, report.text);
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("\n");
  std::fflush(stdout);
  if (with_drafts) {
    const size_t n = report.drafts.empty() ? 1 : report.drafts.size();
    for (size_t i = 0; i < n; ++i)
      std::fprintf(stderr, "--- draft %zu of %zu%s ---\n%s\n", i + 1, n,
                   i != report.chosen ? "" : report.refined_lines > 0 ? " (chosen, then refined sentence by sentence)" : " (the report)",
                   report.drafts.empty() ? report.text.c_str() : report.drafts[i].c_str());
  }
  if (!report.dropped_findings.empty()) {  // as --json's dropped_findings
    std::string went;
    for (const EyeFinding& d : report.dropped_findings)
      went += (went.empty() ? "" : ", ") + std::string(eye_name(d.eye)) + " " + finding_code(d.finding);
    std::fprintf(stderr, "note: left out as the images or the findings text read them absent: %s\n", went.c_str());
  }
  for (size_t i = 0; i < report.image_checks.size(); ++i) {
    const ImageCheck& c = report.image_checks[i];
    if (!c.used)
      std::fprintf(stderr, "note: image %zu (%s, given as %s) looks like %s (p = %.2f) and was left out\n", i + 1,
                   specs[i].path.c_str(), modality_name(c.given), modality_name(c.looks_like), c.looks_like_probability);
    else if (c.gradable_probability < 0.5f)
      std::fprintf(stderr, "note: image %zu (%s) looks ungradable (p gradable = %.2f)\n", i + 1, specs[i].path.c_str(),
                   c.gradable_probability);
  }
  std::fprintf(stderr,
               "[model %s from %s; %lld prompt tokens, %lld generated; draft %zu of %d chosen, lines refined %d, sentences "
               "inserted %d (%d guided), dropped %d; embed %.2f s, prefill %.2f s, decode %.2f s]\n",
               model->bundle().name.c_str(), model->bundle().folder.c_str(),
               static_cast<long long>(report.prompt_tokens), static_cast<long long>(report.generated_tokens),
               report.chosen + 1, report.candidates, report.refined_lines, report.inserted_sentences, report.guided_sentences,
               report.dropped_sentences, report.embed_seconds, report.prefill_seconds, report.decode_seconds);
  return 0;
}

}  // namespace ophtha::cli
