// Training data for the language model: token sequences with the positions the loss learns,
// padded batches, and the seeded order in which a run visits them.
//
// Sequences:
//   - a prompt/response pair (report fine-tuning):  [bos] prompt response [eos], learning only the
//     response tokens and eos: the prompt (and, later, image positions) is context, never a target;
//   - a text document (pre-training):  [bos] text [eos], every token learned, cut into windows of
//     at most max_tokens when longer.
// prompt and response are tokenised separately (encode(prompt, bos) then encode(response)), so a
// report starts on a word boundary whatever the prompt ends with — as generation continues a prompt.
//
// Thread safety: the functions are thread-safe; a BatchOrder is immutable.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "ophtha/export.h"
#include "ophtha/tokenizer.hpp"

namespace ophtha {

struct OPHTHA_API TrainSequence {
  std::vector<int32_t> tokens;  // (n)
  std::vector<uint8_t> learn;   // (n) 1 where tokens[i] is a target of the loss (never i = 0)
  int64_t learned() const;      // Σ learn
};

// [bos] prompt response [eos], truncated to max_tokens (the prompt kept first). Empty `learn`
// (learned() == 0) when the response does not fit at all.
OPHTHA_API TrainSequence supervised_sequence(const Tokenizer& tokenizer, const std::string& prompt,
                                             const std::string& response, int64_t max_tokens);
// [bos] text [eos] in windows of at most max_tokens tokens, each learning all but its first token
// (a window of one token learns nothing and is dropped).
OPHTHA_API std::vector<TrainSequence> document_sequences(const Tokenizer& tokenizer, const std::string& text,
                                                         int64_t max_tokens);

// Reads a data file:
//   *.jsonl  one JSON object per line (blank lines skipped): {"prompt": s, "response": s} or {"text": s};
//   any other extension: plain text, one document per non-empty line.
// Supervised sequences whose response does not fit are dropped (counted in *dropped when given).
// Error(Io) when the file cannot be read; Error(InvalidFormat) naming the file and line for a line
// that is not a JSON object with string "prompt" and "response", or string "text"; and for a file
// that yields no sequence at all. max_tokens ≥ 2 (Error(InvalidArgument)).
OPHTHA_API std::vector<TrainSequence> read_train_sequences(const std::string& path, const Tokenizer& tokenizer,
                                                           int64_t max_tokens, int64_t* dropped = nullptr);

// A right-padded batch of B sequences, T = the longest length − 1:
//   ids [B, T] int64 (input tokens; pad_id after each sequence's end), targets [B, T] int64 (the next
//   token; pad_id past the end), loss_mask [B, T] f32 (learn[t + 1]; 0 on padding).
struct OPHTHA_API TrainBatch {
  at::Tensor ids, targets, loss_mask;
  int64_t learned = 0;  // Σ loss_mask
  int64_t tokens = 0;   // real (unpadded) input positions
};
// Error(InvalidArgument) for no sequences or a sequence shorter than 2 tokens.
OPHTHA_API TrainBatch make_train_batch(const std::vector<const TrainSequence*>& sequences, int32_t pad_id);

// The order of a run: epoch e visits the sequences in a Fisher–Yates shuffle drawn from
// ophtha::Random(seed).fork(e), in batches of batch_size (the last batch of an epoch may be smaller).
// Micro-batch m of the run is batch m mod batches_per_epoch() of epoch m / batches_per_epoch(), so
// a run's position in its data is one number.
//
// Grouped by length (the second constructor, group_batches > 0), as Hugging Face's group_by_length
// and fairseq's size-sorted batches do: the shuffled epoch is cut into windows of group_batches ·
// batch_size sequences, each window is sorted by length (longest first, ties in shuffled order)
// and cut into batches, and the epoch's batches are then visited in a second shuffle drawn from
// the same stream. A batch is padded to its longest sequence (make_train_batch), so batches of
// like lengths waste little compute on padding; every sequence is still visited once per epoch.
class OPHTHA_API BatchOrder {
 public:
  // Error(InvalidArgument) for n_sequences < 1 or batch_size < 1.
  BatchOrder(int64_t n_sequences, int64_t batch_size, uint64_t seed);
  // lengths[i] = sequence i's length (in tokens); group_batches ≥ 0 (0 = not grouped, as above).
  // Error(InvalidArgument) for no lengths, batch_size < 1 or group_batches < 0.
  BatchOrder(std::vector<int64_t> lengths, int64_t batch_size, uint64_t seed, int64_t group_batches);
  int64_t batches_per_epoch() const { return (n_ + batch_size_ - 1) / batch_size_; }
  // Sequence indices of micro-batch `m` (≥ 0).
  std::vector<int64_t> batch(int64_t m) const;

 private:
  int64_t n_, batch_size_;
  uint64_t seed_;
  std::vector<int64_t> lengths_;  // empty unless grouped
  int64_t group_batches_ = 0;
};

}  // namespace ophtha
