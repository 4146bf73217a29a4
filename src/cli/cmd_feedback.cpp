// ophtha feedback add --store DIR --study ID --report FILE [--reviewer NAME] [--lang zh|en|auto]
//                     [--manifest M]
// ophtha feedback list --store DIR [--json]
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "ophtha/error.hpp"
#include "ophtha/feedback_store.hpp"
#include "ophtha/manifest.hpp"

namespace ophtha::cli {

static const char* kFeedbackHelp =
    "usage: ophtha feedback add --store DIR --study ID --report FILE [options]\n"
    "       ophtha feedback list --store DIR [--json]\n"
    "add: appends a clinician's corrected report to DIR/corrections.jsonl (created when missing).\n"
    "     The store is append-only: nothing already in it, and no original study data, is changed.\n"
    "  --store DIR        the corrections store folder\n"
    "  --study ID         the study's id in its manifest\n"
    "  --report FILE      the corrected report (UTF-8 text; '-' reads standard input)\n"
    "  --reviewer NAME    who corrected it (optional)\n"
    "  --lang zh|en|auto  the report's language (default auto: guessed from its script)\n"
    "  --manifest M       check that the study id exists in this manifest first\n"
    "list: prints the corrections (latest per study and language last), and any damaged lines.\n"
    "  --json             one JSON object per correction instead of a table\n";

static std::string read_report(const std::string& path) {
  std::stringstream text;
  if (path == "-") {
    text << std::cin.rdbuf();
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(ErrorCode::Io, "cannot read the report file '{}'", path);
    text << in.rdbuf();
  }
  std::string report = text.str();
  while (!report.empty() && (report.back() == '\n' || report.back() == '\r')) report.pop_back();
  return report;
}

static int feedback_add(const Args& args) {
  Correction c;
  c.study = args.str("--study");
  c.report = read_report(args.str("--report"));
  c.reviewer = args.str_or("--reviewer", "");
  const std::string lang = args.str_or("--lang", "auto");
  if (lang != "auto" && lang != "zh" && lang != "en")
    fail(ErrorCode::InvalidArgument, "option --lang expects zh, en or auto, got '{}'", lang);
  c.lang = lang == "auto" ? guess_report_language(c.report) : lang;
  if (args.has("--manifest")) {
    const Manifest manifest = read_manifest(args.str("--manifest"));
    bool found = false;
    for (const Study& s : manifest.studies) found = found || s.id == c.study;
    if (!found) fail(ErrorCode::InvalidArgument, "study '{}' is not in the manifest {}", c.study, args.str("--manifest"));
  }
  const Correction stored = append_correction(args.str("--store"), c);
  std::printf("added correction #%lld for study %s (%s, %zu bytes) to %s/%s\n", static_cast<long long>(stored.sequence),
              stored.study.c_str(), stored.lang.c_str(), stored.report.size(), args.str("--store").c_str(),
              kCorrectionsFileName);
  return 0;
}

static int feedback_list(const Args& args) {
  const CorrectionLog log = read_corrections(args.str("--store"));
  for (const Correction& c : log.corrections) {
    if (args.flag("--json")) {
      const nlohmann::json j = {{"sequence", c.sequence}, {"study", c.study}, {"lang", c.lang},
                                {"reviewer", c.reviewer}, {"time", c.time},   {"report", c.report}};
      std::printf("%s\n", j.dump().c_str());
    } else {
      std::string first_line = c.report.substr(0, c.report.find('\n'));
      if (first_line.size() > 60) first_line = first_line.substr(0, 57) + "...";
      std::printf("#%-5lld %-12s %-2s %-20s %s  %s\n", static_cast<long long>(c.sequence), c.study.c_str(),
                  c.lang.c_str(), c.time.c_str(), c.reviewer.c_str(), first_line.c_str());
    }
  }
  for (const std::string& problem : log.problems) std::fprintf(stderr, "warning: %s\n", problem.c_str());
  if (!args.flag("--json"))
    std::printf("%zu correction(s), %zu studies; %zu damaged line(s) skipped\n", log.corrections.size(),
                log.latest().size(), log.problems.size());
  return 0;
}

int run_feedback(const Args& args) {
  const std::vector<std::string>& raw = args.raw();
  if (raw.empty() || raw[0] == "--help" || raw[0] == "-h") {
    std::fputs(kFeedbackHelp, raw.empty() ? stderr : stdout);
    return raw.empty() ? 2 : 0;
  }
  Args sub(std::vector<std::string>(raw.begin() + 1, raw.end()));
  if (raw[0] == "add") {
    sub.parse({"--store", "--study", "--report", "--reviewer", "--lang", "--manifest"}, {});
    if (sub.wants_help()) return std::fputs(kFeedbackHelp, stdout), 0;
    return feedback_add(sub);
  }
  if (raw[0] == "list") {
    sub.parse({"--store"}, {"--json"});
    if (sub.wants_help()) return std::fputs(kFeedbackHelp, stdout), 0;
    return feedback_list(sub);
  }
  fail(ErrorCode::InvalidArgument, "unknown feedback action '{}', expected add or list", raw[0]);
}

}  // namespace ophtha::cli
