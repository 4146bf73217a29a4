// The study manifest: a dataset as JSON Lines, one study per line in the JSON of
// ophtha/study_json.hpp:
//
//   {"id": "syn-000001", "images": [{"path": "images/syn-000001_OD_cfp.png", "modality": "cfp",
//    "eye": "OD", "findings_text": "..."}], "labels": {"OD": {...}}, "reports": {"zh": "...",
//    "en": "..."}, "split": "train"}
//
// Image paths are relative to the manifest's folder (or absolute). docs/formats.md ("Study
// manifest") describes every field and docs/manifest.schema.json is the JSON Schema of one line.
// Synthetic datasets (`ophtha synth`) write it; training and `ophtha eval` read it.
//
// Thread safety: the functions are reentrant; a ManifestWriter belongs to one thread at a time.
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ophtha/export.h"
#include "ophtha/study.hpp"

namespace ophtha {

class AtomicFileWriter;

// A manifest that read_manifest checked completely.
struct OPHTHA_API Manifest {
  std::string path;                 // as given to read_manifest
  std::string folder;               // the manifest's folder: relative image paths start here
  std::vector<Study> studies;       // in file order; image paths as written in the file
  std::vector<size_t> line_numbers; // (studies.size()) 1-based line of each study in the file
  std::unordered_map<std::string, size_t> index;  // id -> position in `studies`

  // The study with this id, or nullptr. O(1).
  const Study* find(std::string_view id) const;
  // The image's path as a program opens it: absolute paths as they are, relative ones under `folder`.
  std::string image_path(const StudyImage& image) const;
};

// The most problems read_manifest lists in its message; the rest are counted.
inline constexpr size_t kManifestProblemLimit = 100;

// Reads and checks every line, and only then returns. Checked: each line is one JSON object (no
// repeated key); every field of study_json.hpp with its type and codes; unknown keys; the rules
// of study.hpp (study_rule_problems: one image per eye and modality, labels agree with the images,
// gradable modalities only, cup_disc level = cup_disc_level(vertical_cdr)); ids unique in the
// file; every image file exists. Blank lines (only whitespace) are skipped; a trailing "\r" is
// dropped. An empty manifest (no studies) is valid.
// Errors: Error(Io) when the file cannot be read; Error(InvalidFormat) when anything is wrong,
// listing every problem, one per line, as "FILE:LINE: FIELD: what was wrong, expected ...", at most
// kManifestProblemLimit of them followed by "... and N more problems".
OPHTHA_API Manifest read_manifest(const std::string& path);

// Writes `studies` as a manifest, atomically (AtomicFileWriter): readers see the old file or the
// complete new one. Each study is checked first with study_rule_problems and for a repeated id;
// image files are not looked at (they may be written later).
// Errors: Error(InvalidArgument) listing every problem ("study 3 (id 'x'): FIELD: ...") before
// anything is written; Error(Io) from the file system.
OPHTHA_API void write_manifest(const std::string& path, const std::vector<Study>& studies);

// Writes a manifest one study at a time, for datasets too large to hold: lines go to a temporary
// file next to `path`, commit() renames it over `path`. Destroying the writer without commit()
// leaves `path` as it was. Same checks as write_manifest, per append (ids are remembered).
class OPHTHA_API ManifestWriter {
 public:
  // Error(Io) when the temporary file cannot be created.
  explicit ManifestWriter(const std::string& path);
  ~ManifestWriter();
  ManifestWriter(const ManifestWriter&) = delete;
  ManifestWriter& operator=(const ManifestWriter&) = delete;

  // Appends one line. Error(InvalidArgument) listing the study's problems (nothing is written);
  // Error(Io) from the file system; Error(InvalidArgument) after commit().
  void append(const Study& study);
  size_t count() const { return count_; }
  // Makes the file visible under `path`. Error(Io) from the file system.
  void commit();

 private:
  std::string path_;
  std::unique_ptr<AtomicFileWriter> file_;
  std::unordered_map<std::string, size_t> ids_;  // id -> index of the study that used it
  size_t count_ = 0;
};

}  // namespace ophtha
