// Choosing one report among several drafts of the same study: minimum-Bayes-risk selection under
// clinical-label agreement.
//
// A small language model decoded greedily drops findings whose mentions it spreads over many
// wordings and orders: at each step "end the list" can be likelier than any single remaining
// finding even when continuing the list is likelier in sum. Sampling N drafts and keeping the one
// that agrees most with the others (Kumar & Byrne 2004, "Minimum Bayes-risk decoding for
// statistical machine translation"; Freitag et al. 2022 for sampled candidates) recovers what the
// drafts agree on. Here the agreement is measured on the labels each draft states
// (extract_labels_from_text), not on its wording.
#pragma once
#include <cstddef>
#include <vector>

#include "ophtha/export.h"
#include "ophtha/study.hpp"

namespace ophtha {

// How much two drafts agree, summed over the eyes either states: for each eye, the F1 of their
// findings (1 when neither lists any) plus 1 per grading scale on which both state the same level
// (a scale only one of them states adds 0). Symmetric; 0 when neither states any eye.
OPHTHA_API double label_agreement(const StudyLabels& a, const StudyLabels& b);

// The index of the draft whose summed label_agreement with every other draft is highest; ties go
// to the lowest index (so a greedy draft placed first wins a tie). Error(InvalidArgument) when
// `drafts` is empty.
OPHTHA_API size_t consensus_choice(const std::vector<StudyLabels>& drafts);

}  // namespace ophtha
