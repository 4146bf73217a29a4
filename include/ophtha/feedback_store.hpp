// The corrections store: clinicians' corrected reports, kept apart from the original data, so that
// they can become training data (with a weight) and evaluation can compare before and after —
// without any original manifest, image or report ever being edited.
//
//   <store>/corrections.jsonl   append-only JSON Lines, one correction per line:
//     {"sequence": 7, "study": "S00042", "report": "...", "lang": "en", "reviewer": "Dr Li",
//      "time": "2026-11-28T13:40:00Z"}
//
// Appending: the store folder is created when missing; each correction is one write() of one
// whole line under an exclusive flock on the file, then fsync — concurrent writers (processes or
// threads) never interleave, and `sequence` counts up without gaps. A line left torn by a crash
// (no final newline) is never rewritten: the next append starts on a fresh line, and readers
// report the torn line and skip it.
// Reading: every line is checked; malformed lines are reported (file, line, what was wrong) in
// CorrectionLog::problems, not thrown, because a store is a log that must stay readable.
//
// Thread safety: free functions; appends from any number of threads or processes at once.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ophtha/export.h"

namespace ophtha {

inline constexpr const char* kCorrectionsFileName = "corrections.jsonl";

struct Correction {
  int64_t sequence = 0;  // 1, 2, 3, ... in the order appended
  std::string study;     // the study id in its manifest
  std::string report;    // the clinician's corrected report (the whole report)
  std::string lang;      // "zh" or "en"
  std::string reviewer;  // may be empty
  std::string time;      // UTC, ISO 8601 ("2026-11-28T13:40:00Z")
};

struct OPHTHA_API CorrectionLog {
  std::vector<Correction> corrections;  // in sequence order
  std::vector<std::string> problems;    // "<file>:<line>: <what was wrong>"

  // The latest correction per (study, lang): what training and evaluation use.
  std::map<std::pair<std::string, std::string>, Correction> latest() const;
};

// Appends a correction (its sequence and, when empty, its time are filled in) and returns it as
// stored. Error(InvalidArgument) for an empty study id or report, a lang other than "zh"/"en",
// or text that is not valid UTF-8 (naming the field); Error(Io) naming the path when the store
// cannot be created, locked, written or synced.
OPHTHA_API Correction append_correction(const std::string& store_dir, Correction correction);

// Reads <store>/corrections.jsonl; an absent file is an empty log. Error(Io) when it exists but
// cannot be read.
OPHTHA_API CorrectionLog read_corrections(const std::string& store_dir);

// "zh" when at least a quarter of the letters are CJK ideographs, else "en" (for --lang auto).
OPHTHA_API std::string guess_report_language(const std::string& text);

}  // namespace ophtha
