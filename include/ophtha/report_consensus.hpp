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
//
// The drafts can also be weighed against evidence from outside the language model: what the
// auxiliary heads read in each image (heads_reading) and what the instruments' findings text states
// (extract_labels_from_text on it). The language model writes every draft; the evidence only
// decides which draft becomes the report — a verifier re-ranking samples, as in Cobbe et al. 2021
// ("Training verifiers to solve math word problems"). On the demo the heads state meiboscores, OCT
// classes and AREDS grades more reliably than a single draft does (docs/reports.md, "Consensus
// over drafts").
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "ophtha/export.h"
#include "ophtha/study.hpp"

namespace ophtha {

// How much two drafts agree, summed over the eyes both state: for each, the F1 of their findings
// (1 when neither lists any) plus 1 per grading scale on which both state the same level (a scale
// only one of them states adds 0). An eye only one of them states adds 0. Symmetric; 0 when they
// share no eye.
OPHTHA_API double label_agreement(const StudyLabels& a, const StudyLabels& b);

// How far a draft states what the evidence states, summed over the evidence's eyes the draft
// states (an examined eye the draft is silent about adds 0): for each, the F1 of the two findings
// lists restricted to the modalities the evidence read gradable for that eye (imaged and not
// ungradable; 1 when neither lists any), plus 1 per grading scale of the evidence on which the
// draft states the same level; less 1 for each (eye, modality) the draft
// speaks of — as imaged, or through a finding or a grade — that the evidence's eye was not imaged
// with (every modality of an eye the evidence lacks): the evidence holds every examination made,
// so the draft describes one nobody made. 0 when the evidence states no eye.
OPHTHA_API double evidence_agreement(const StudyLabels& draft, const StudyLabels& evidence);

// Adds one reading of `eye` (an image's heads_reading, or an eye of the labels a findings text
// states) to the evidence: imaged and ungradable modalities and findings are united; a grade the
// evidence already states is kept, so readings added first win.
OPHTHA_API void add_evidence(StudyLabels& evidence, Eye eye, const EyeLabels& reading);

// Each draft's support: its summed label_agreement with every other draft plus evidence_weight ×
// (N − 1) × its evidence_agreement, less (N − 1) × contradictions[i] — the findings draft i both
// states and denies for an eye (read_report; `contradictions` empty: none counted). A contradiction
// costs as much as disagreeing with every other draft on one grade: the labels read from such a
// draft count the finding as stated, so without the cost a draft that denies what it states would
// tie with one that does not. consensus_choice keeps the highest. Error(InvalidArgument) as for
// consensus_choice.
OPHTHA_API std::vector<double> consensus_support(const std::vector<StudyLabels>& drafts, const StudyLabels& evidence = {},
                                                 double evidence_weight = 0.0,
                                                 const std::vector<size_t>& contradictions = {});

// Whether support `a` is higher than `b` by more than rounding (10⁻⁹ relative): sums of F1
// fractions such as 1/3 added in another order must not break a tie.
OPHTHA_API bool outscores(double a, double b);

// The index of the highest support, ties (as outscores sees them) to the lowest index; 0 for [].
OPHTHA_API size_t most_supported(const std::vector<double>& support);

// The index of the draft whose summed label_agreement with every other draft, plus
// evidence_weight × (N − 1) × its evidence_agreement, is highest — a weight of 1 counts the
// evidence as much as all the other drafts together; ties go to the lowest index (so a greedy
// draft placed first wins a tie), less (N − 1) per contradiction (consensus_support).
// Error(InvalidArgument) when `drafts` is empty, the weight is negative or not finite, or
// `contradictions` is neither empty nor one count per draft.
OPHTHA_API size_t consensus_choice(const std::vector<StudyLabels>& drafts, const StudyLabels& evidence = {},
                                   double evidence_weight = 0.0, const std::vector<size_t>& contradictions = {});

// The drafts of one report, read and weighed as the report pipeline weighs them.
struct DraftChoice {
  size_t chosen = 0;                 // consensus_choice over the drafts below
  std::vector<StudyLabels> labels;   // per draft, what its text states (read_report(...).labels)
  std::vector<size_t> conflicts;     // per draft, its eyes' referrals and follow-up intervals at odds
                                     // with its own grades (read_report's referral_conflicts +
                                     // follow_up_conflicts), each costing as a contradiction does
};

// Reads each draft (read_report in `lang`: "zh", "en" or "auto") and keeps the one
// consensus_choice prefers, each draft less its recommendations at odds with its own grades (as
// contradictions): only a draft's layout decides
// whether its recommendation line can say what each eye needs ("OU: refer immediately" where the
// eyes need different things), and line refinement keeps the chosen draft's layout, so such a
// draft must lose to one that can. Errors: read_report's, and consensus_choice's (no drafts, a
// negative or non-finite weight).
OPHTHA_API DraftChoice choose_draft(const std::vector<std::string>& drafts, std::string_view lang,
                                   const StudyLabels& evidence = {}, double evidence_weight = 0.0);

}  // namespace ophtha
