/*
 * ophtha.h — the stable C ABI of libophtha (C99 and C++).
 *
 * What it offers: load a LLaMA2-architecture language model (GGUF file or Hugging Face folder)
 * or a model bundle, open sessions on it, tokenize / detokenize, generate text with streaming,
 * hold ophthalmic images (pixels + modality + eye), write diagnostic reports and embed images
 * (model bundles), and run the tools: synthetic studies, evaluation and training.
 *
 * Rules that hold for every function (docs/c-api.md has the long form):
 *  - Handles are opaque. ophtha_model is immutable after loading: any number of threads may use
 *    one model at once. ophtha_session (KV cache, scratch, RNG) is used by one thread at a time;
 *    different sessions may run on different threads at once, also on one model.
 *    ophtha_image is immutable after creation: any number of threads may read it.
 *  - Every call that can fail returns an ophtha_status. On failure it writes nothing through its
 *    out-parameters (one documented exception: the needed size on OPHTHA_STATUS_BUFFER_TOO_SMALL),
 *    leaks nothing, and ophtha_last_error_message() says what was wrong, where and what was
 *    expected. No C++ exception ever leaves the library.
 *  - Every *_free function accepts NULL and does nothing with it.
 *  - Strings are UTF-8. A `const char *` the library returns is owned by the library; how long
 *    it stays valid is written next to the function.
 *  - Parameter structs start with `uint32_t struct_size` and are filled by *_params_default,
 *    which takes sizeof the caller's struct; the library reads only the caller's struct_size
 *    bytes, so programs built against an older (smaller) struct keep working ("Struct sizes").
 *  - Callbacks are (function, user_data) pairs, called on the thread that made the call they
 *    belong to, never after that call returns (log callback: see ophtha_log_set). They must not
 *    throw or longjmp, and must not call back into the same session.
 *
 * Struct sizes: a struct only ever grows by appending fields, and a field appended later treats
 * zero as "behave as the version before". The library accepts a struct_size that ends exactly
 * after one of the struct's fields (an older prefix of the struct: the fields it leaves out
 * take their defaults), and a struct_size larger than the library's own (a newer header) when
 * every byte it does not know is zero; otherwise OPHTHA_STATUS_INVALID_ARGUMENT (not the end of
 * a field, or larger than OPHTHA_MAX_STRUCT_SIZE) or OPHTHA_STATUS_UNSUPPORTED (a field this
 * library does not know is set).
 */
#ifndef OPHTHA_H
#define OPHTHA_H

#include <stddef.h>
#include <stdint.h>

#include "ophtha/export.h"
#include "ophtha/version.hpp" /* OPHTHA_VERSION_MAJOR / _MINOR / _PATCH / _STRING (plain macros) */

#ifdef __cplusplus
extern "C" {
#endif

/* ---- versions ------------------------------------------------------------------------------ */

/* MAJOR * 10000 + MINOR * 100 + PATCH, e.g. 10203 for 1.2.3. */
#define OPHTHA_VERSION_NUMBER (OPHTHA_VERSION_MAJOR * 10000 + OPHTHA_VERSION_MINOR * 100 + OPHTHA_VERSION_PATCH)

/* Raised whenever a change breaks programs built against an earlier ophtha.h (a function removed
 * or its signature changed, a constant's meaning changed). Appending functions, constants or
 * struct fields does not raise it. A program checks at start-up that
 * ophtha_abi_version() == OPHTHA_ABI_VERSION. */
#define OPHTHA_ABI_VERSION 1

/* The library's version, "MAJOR.MINOR.PATCH"; a static string. Thread-safe. */
OPHTHA_API const char *ophtha_version(void);
/* The library's OPHTHA_VERSION_NUMBER. Thread-safe. */
OPHTHA_API uint32_t ophtha_version_number(void);
/* The library's OPHTHA_ABI_VERSION. Thread-safe. */
OPHTHA_API uint32_t ophtha_abi_version(void);

/* ---- statuses and errors ------------------------------------------------------------------- */

/* What a call returns. The values are fixed forever; a status that is retired keeps its number
 * unused. New statuses may be added: treat an unknown non-zero value as a failure. */
typedef int32_t ophtha_status;
enum {
  OPHTHA_STATUS_OK = 0,
  OPHTHA_STATUS_INVALID_ARGUMENT = 1, /* NULL where a value is needed, out-of-range value, bad struct_size */
  OPHTHA_STATUS_IO = 2,               /* a file could not be opened, read or mapped */
  OPHTHA_STATUS_INVALID_FORMAT = 3,   /* a file's contents break its format (magic, bounds, shapes) */
  OPHTHA_STATUS_UNSUPPORTED = 4,      /* valid but not supported by this library (architecture,
                                         tensor type, a struct field it does not know) */
  OPHTHA_STATUS_CONTEXT_OVERFLOW = 5, /* the prompt does not fit the session's context */
  OPHTHA_STATUS_ABORTED = 6,          /* an abort or progress callback asked to stop */
  OPHTHA_STATUS_BUFFER_TOO_SMALL = 7, /* the caller's buffer is too small; the needed size is written */
  OPHTHA_STATUS_OUT_OF_MEMORY = 8,    /* an allocation failed */
  OPHTHA_STATUS_INTERNAL = 9          /* a bug in the library; the message says where */
};

/* A short static English name for a status ("invalid argument"); "unknown status" for a value
 * this library does not know. Never NULL. Thread-safe. */
OPHTHA_API const char *ophtha_status_string(ophtha_status status);

/* The message of the most recent call on the calling thread that returns an ophtha_status:
 * "" when that call succeeded. Thread-local; never NULL; valid until the next such call on this
 * thread. Example: "m.gguf: tensor 'blk.0.attn_k.weight' has shape [64, 64], expected [16, 64]". */
OPHTHA_API const char *ophtha_last_error_message(void);

/* ---- logging ------------------------------------------------------------------------------- */

typedef int32_t ophtha_log_level;
enum {
  OPHTHA_LOG_DEBUG = 0,
  OPHTHA_LOG_INFO = 1,
  OPHTHA_LOG_WARN = 2,
  OPHTHA_LOG_ERROR = 3,
  OPHTHA_LOG_NONE = 4 /* as a minimum level: log nothing */
};

/* `message` is one line without a trailing newline, valid only during the call. */
typedef void (*ophtha_log_callback)(ophtha_log_level level, const char *message, void *user_data);

/* Sends every message at `min_level` or above to `callback`, or to stderr when it is NULL
 * (before any call: stderr, minimum OPHTHA_LOG_WARN; OPHTHA_LOG_NONE silences). Failures are
 * logged at debug level as well as returned. Process-wide; thread-safe. The callback runs on the thread
 * that logs (any thread calling into the library); calls are serialized, so it never runs twice
 * at once. When ophtha_log_set returns, no call to the previous callback is running or will
 * start, so its user_data may be freed. The callback may call ophtha_log_set. */
OPHTHA_API void ophtha_log_set(ophtha_log_callback callback, void *user_data, ophtha_log_level min_level);

/* ---- callbacks ----------------------------------------------------------------------------- */

/* Load progress: `fraction` done in [0, 1], non-decreasing. Return 0 to continue, non-zero to
 * cancel the load (it then returns OPHTHA_STATUS_ABORTED). Called on the loading thread. */
typedef int32_t (*ophtha_progress_callback)(float fraction, void *user_data);

/* Abort check: return non-zero to stop the running call with OPHTHA_STATUS_ABORTED. Polled on
 * the calling thread, once per token and once per transformer layer. */
typedef int32_t (*ophtha_abort_callback)(void *user_data);

/* Streaming: `text` holds `length` bytes of complete UTF-8 characters (NUL-terminated as well),
 * valid only during the call. Called on the generating thread once per generated token with the
 * text that token completed (often empty: a character split over byte tokens, or text that may
 * still turn into a stop string, is held back), then at most once more with token == -1 and the
 * held-back tail. Stop strings never appear. The concatenation of all calls is the generated
 * text. Return 0 to continue, non-zero to end generation cleanly (OPHTHA_STOP_CANCELLED). */
typedef int32_t (*ophtha_token_callback)(const char *text, size_t length, int32_t token, void *user_data);

/* The largest struct_size any ophtha struct will ever have; larger values are refused unread. */
#define OPHTHA_MAX_STRUCT_SIZE 4096u

/* ---- model --------------------------------------------------------------------------------- */

typedef struct ophtha_model ophtha_model;

typedef struct ophtha_model_params {
  uint32_t struct_size;                       /* sizeof(ophtha_model_params), set by the default */
  ophtha_progress_callback progress_callback; /* NULL: none (default) */
  void *progress_user_data;
} ophtha_model_params;

/* Fills *params with the defaults for a struct of `struct_size` bytes (pass sizeof *params) and
 * sets params->struct_size. Bytes past the library's own struct are zeroed. Errors:
 * INVALID_ARGUMENT for NULL or a struct_size that is not the end of a field. Thread-safe. */
OPHTHA_API ophtha_status ophtha_model_params_default(ophtha_model_params *params, uint32_t struct_size);

/* Loads a language model from `path`: a .gguf file (F32, F16, BF16, Q8_0, Q4_0) or a Hugging Face
 * folder (config.json + model.safetensors or shards + tokenizer.model). Weights are memory-mapped
 * read-only; the file is never modified. `params` NULL means defaults. On success *out_model is a
 * new model the caller owns (ophtha_model_free). A folder holding ophtha-bundle.json (a model
 * bundle) loads every part the bundle names (ophtha_model_has_vision is then non-zero).
 * Errors: INVALID_ARGUMENT (NULL path or out_model, bad params), IO (cannot open), INVALID_FORMAT
 * (broken file, missing or wrongly shaped tensor: the message names the file, tensor and shapes),
 * UNSUPPORTED (another architecture or tensor type), ABORTED (the progress callback cancelled),
 * OUT_OF_MEMORY. Thread-safe. */
OPHTHA_API ophtha_status ophtha_model_load(const char *path, const ophtha_model_params *params,
                                           ophtha_model **out_model);

/* Releases the caller's reference. Sessions made from the model keep what they need alive, so a
 * model may be freed before its sessions. NULL: no-op. No other thread may use `model` during or
 * after this call. */
OPHTHA_API void ophtha_model_free(ophtha_model *model);

/* Facts about a loaded model; 0 for NULL. Thread-safe. */
OPHTHA_API int32_t ophtha_model_n_vocab(const ophtha_model *model);
OPHTHA_API int32_t ophtha_model_context_length(const ophtha_model *model);
OPHTHA_API int32_t ophtha_model_token_bos(const ophtha_model *model);
OPHTHA_API int32_t ophtha_model_token_eos(const ophtha_model *model);

/* ---- tokens -------------------------------------------------------------------------------- */

/* Tokenizes `text_length` bytes at `text` (any bytes; invalid UTF-8 becomes U+FFFD as in
 * SentencePiece), with the BOS token first when add_bos is non-zero. On success writes the ids
 * into tokens[0 .. *n_tokens) and the count into *n_tokens. When `capacity` is too small it
 * writes nothing into `tokens`, writes the needed count into *n_tokens and returns
 * OPHTHA_STATUS_BUFFER_TOO_SMALL (call with capacity 0 and tokens NULL to ask for the size).
 * Errors: INVALID_ARGUMENT (NULL model or n_tokens, NULL text with text_length > 0, NULL tokens
 * with capacity > 0), BUFFER_TOO_SMALL. Thread-safe (the model is shared read-only). */
OPHTHA_API ophtha_status ophtha_tokenize(const ophtha_model *model, const char *text, size_t text_length,
                                         int32_t add_bos, int32_t *tokens, size_t capacity, size_t *n_tokens);

/* The text of `n_tokens` ids, as SentencePiece DecodeIds gives it (control tokens give "", the
 * leading dummy-prefix space is dropped). On success writes the text and a terminating NUL into
 * text[0 .. *text_length] (so capacity must be at least the length + 1) and the length without
 * the NUL into *text_length. When `capacity` is too small it writes nothing into `text`, writes
 * the needed length (without the NUL) into *text_length and returns BUFFER_TOO_SMALL.
 * Errors: INVALID_ARGUMENT (NULL model or text_length, tokens NULL with n_tokens > 0, text NULL
 * with capacity > 0, an id outside [0, n_vocab): the message names its index), BUFFER_TOO_SMALL.
 * Thread-safe. */
OPHTHA_API ophtha_status ophtha_detokenize(const ophtha_model *model, const int32_t *tokens, size_t n_tokens,
                                           char *text, size_t capacity, size_t *text_length);

/* ---- session ------------------------------------------------------------------------------- */

typedef struct ophtha_session ophtha_session;

typedef struct ophtha_session_params {
  uint32_t struct_size;   /* sizeof(ophtha_session_params), set by the default */
  int32_t n_threads;      /* threads of the session's compute pool; 0 (default): every core this
                             process may run on. With several sessions running at once, give each
                             a share of the cores. */
  int32_t context_length; /* tokens the KV cache holds; 0 (default): the model's; at most the model's */
} ophtha_session_params;

/* As ophtha_model_params_default, for session parameters. */
OPHTHA_API ophtha_status ophtha_session_params_default(ophtha_session_params *params, uint32_t struct_size);

/* Creates a session on `model`, allocating its KV cache for the whole context up front
 * (2 x layers x context x kv_dim x 4 bytes). `params` NULL means defaults. On success *out_session
 * is a new session the caller owns (ophtha_session_free); it keeps the model alive.
 * Errors: INVALID_ARGUMENT (NULL model or out_session, bad params, n_threads outside [0, 1024],
 * context_length outside [0, the model's], a KV cache larger than physical memory), OUT_OF_MEMORY.
 * Thread-safe with respect to the model. */
OPHTHA_API ophtha_status ophtha_session_create(const ophtha_model *model, const ophtha_session_params *params,
                                               ophtha_session **out_session);

/* Frees the session and every result it owns. NULL: no-op. No other thread may use it. */
OPHTHA_API void ophtha_session_free(ophtha_session *session);

/* The session's context length in tokens; 0 for NULL. */
OPHTHA_API int32_t ophtha_session_context_length(const ophtha_session *session);

/* ---- generation ---------------------------------------------------------------------------- */

/* Why generation ended. */
typedef int32_t ophtha_stop_reason;
enum {
  OPHTHA_STOP_EOS = 0,         /* the model produced its end-of-sequence token */
  OPHTHA_STOP_STRING = 1,      /* a stop string appeared (it is not part of the text) */
  OPHTHA_STOP_TOKEN_LIMIT = 2, /* max_tokens generated, or the context is full */
  OPHTHA_STOP_CANCELLED = 3    /* the token callback returned non-zero */
};

/* Sampling follows llama.cpp's order: repeat penalty -> top-k -> top-p -> min-p -> temperature
 * -> seeded draw. The same seed, parameters and prompt give the same tokens on every platform
 * and thread count. */
typedef struct ophtha_generate_params {
  uint32_t struct_size;   /* sizeof(ophtha_generate_params), set by the default */
  int32_t max_tokens;     /* generated tokens at most, >= 0; default 128 */
  float temperature;      /* <= 0: greedy (argmax); default 0.8 */
  int32_t top_k;          /* keep the k most likely; <= 0: off; default 40 */
  float top_p;            /* nucleus: > 0; >= 1 turns it off; default 0.95 */
  float min_p;            /* keep p >= min_p * p_max; <= 1, <= 0: off; default 0.05 */
  float repeat_penalty;   /* > 0, 1: off (default) */
  int32_t repeat_last_n;  /* penalty window; 0: off, -1: all history; default 64 */
  uint64_t seed;          /* default 0 */
  int32_t add_bos;        /* non-zero (default): the prompt starts with the BOS token */
  int32_t ignore_eos;     /* non-zero: keep generating past EOS; default 0 */
  const char *const *stop_strings; /* n_stop_strings non-empty UTF-8 strings, read during the
                                      call only; generation ends before the first one; default none */
  size_t n_stop_strings;
  ophtha_token_callback token_callback; /* NULL: no streaming (default) */
  void *token_user_data;
  ophtha_abort_callback abort_callback; /* NULL: never aborts (default) */
  void *abort_user_data;
} ophtha_generate_params;

/* As ophtha_model_params_default, for generation parameters. */
OPHTHA_API ophtha_status ophtha_generate_params_default(ophtha_generate_params *params, uint32_t struct_size);

/* The outcome of ophtha_generate. The caller sets struct_size (sizeof(ophtha_generation)); the
 * library fills only the fields that lie inside it. */
typedef struct ophtha_generation {
  uint32_t struct_size;
  ophtha_stop_reason stop_reason;
  const char *text;       /* the generated text, NUL-terminated, without any stop string; owned by
                             the session, valid until its next ophtha_generate or ophtha_session_free */
  size_t text_length;     /* bytes, without the NUL */
  const int32_t *tokens;  /* the generated ids (the prompt's are not included); owned like text */
  size_t n_tokens;
  size_t n_prompt_tokens; /* tokens in the prompt, BOS included */
  double prefill_seconds; /* time spent on the prompt */
  double decode_seconds;  /* time spent generating */
} ophtha_generation;

/* Generates text after `prompt` (NUL-terminated UTF-8), from an empty context: every call starts
 * afresh, so the same prompt, seed and parameters give the same text whatever ran before on the
 * session. `params` NULL means defaults. Streams through params->token_callback and, on success,
 * describes the outcome in *out_generation when it is not NULL.
 * Errors: INVALID_ARGUMENT (NULL session or prompt, bad params: the message names the field, an
 * empty prompt without BOS, an empty stop string, struct_size of out_generation not the end of
 * one of its fields), CONTEXT_OVERFLOW (the prompt has more tokens than the context), ABORTED
 * (the abort callback fired; nothing is written), OUT_OF_MEMORY.
 * The session is used by one thread at a time; different sessions may generate at once. */
OPHTHA_API ophtha_status ophtha_generate(ophtha_session *session, const char *prompt,
                                         const ophtha_generate_params *params,
                                         ophtha_generation *out_generation);

/* ---- images -------------------------------------------------------------------------------- */

typedef struct ophtha_image ophtha_image;

/* Pixel layouts: rows top to bottom, interleaved channels, 16-bit samples in native byte order. */
typedef int32_t ophtha_pixel_format;
enum {
  OPHTHA_PIXEL_GRAY8 = 1,
  OPHTHA_PIXEL_GRAY16 = 2,
  OPHTHA_PIXEL_RGB8 = 3,
  OPHTHA_PIXEL_RGBA8 = 4,
  OPHTHA_PIXEL_RGB16 = 5, /* what a 16-bit colour PNG decodes to */
  OPHTHA_PIXEL_RGBA16 = 6
};

typedef int32_t ophtha_modality;
enum {
  OPHTHA_MODALITY_CFP = 1, /* colour fundus photograph */
  OPHTHA_MODALITY_OCT = 2, /* optical coherence tomography B-scan */
  OPHTHA_MODALITY_OSA = 3  /* ocular surface analyser / meibography */
};

typedef int32_t ophtha_eye;
enum {
  OPHTHA_EYE_OD = 1, /* right eye */
  OPHTHA_EYE_OS = 2  /* left eye */
};

/* Decodes a PNG (8/16-bit), JPEG, BMP or TGA file into a new image the caller owns
 * (ophtha_image_free). Grey + alpha becomes RGBA8. Errors: INVALID_ARGUMENT (NULL path or
 * out_image, unknown modality or eye, more than 100 million pixels), IO, INVALID_FORMAT
 * (empty, truncated or corrupt), UNSUPPORTED (another format). Thread-safe. */
OPHTHA_API ophtha_status ophtha_image_load_file(const char *path, ophtha_modality modality, ophtha_eye eye,
                                                ophtha_image **out_image);

/* As ophtha_image_load_file, from `size` bytes of an encoded file at `bytes` (copied, not kept). */
OPHTHA_API ophtha_status ophtha_image_load_memory(const void *bytes, size_t size, ophtha_modality modality,
                                                  ophtha_eye eye, ophtha_image **out_image);

/* Copies a raw frame: `height` rows of `width` pixels in `format`, rows `row_stride` bytes apart
 * (at least width x bytes per pixel). The buffer is not kept. Errors: INVALID_ARGUMENT naming the
 * field (NULL pixels or out_image, width or height <= 0, unknown format, modality or eye, stride
 * too small, more than 100 million pixels), OUT_OF_MEMORY. Thread-safe. */
OPHTHA_API ophtha_status ophtha_image_from_pixels(const void *pixels, int32_t width, int32_t height,
                                                  size_t row_stride, ophtha_pixel_format format,
                                                  ophtha_modality modality, ophtha_eye eye,
                                                  ophtha_image **out_image);

/* NULL: no-op. No other thread may use the image during or after this call. */
OPHTHA_API void ophtha_image_free(ophtha_image *image);

/* Accessors; 0 for NULL. Thread-safe. */
OPHTHA_API int32_t ophtha_image_width(const ophtha_image *image);
OPHTHA_API int32_t ophtha_image_height(const ophtha_image *image);
OPHTHA_API ophtha_pixel_format ophtha_image_format(const ophtha_image *image);
OPHTHA_API ophtha_modality ophtha_image_modality(const ophtha_image *image);
OPHTHA_API ophtha_eye ophtha_image_eye(const ophtha_image *image);
/* The image's own pixels, tightly packed (row stride = width x bytes per pixel), owned by the
 * image and valid until ophtha_image_free; NULL for NULL. */
OPHTHA_API const void *ophtha_image_pixels(const ophtha_image *image);

/* ---- reports (model bundles) ---------------------------------------------------------------- */

/* Non-zero when `model` was loaded from a model bundle (a folder with ophtha-bundle.json: LLM,
 * vision encoder, projector, prompt template; docs/formats.md), so that it can write reports and
 * embed images; 0 for a plain language model or NULL. */
OPHTHA_API int32_t ophtha_model_has_vision(const ophtha_model *model);

typedef struct ophtha_report_params {
  uint32_t struct_size;     /* sizeof(ophtha_report_params), set by the default */
  const char *lang;         /* "en" (default) or "zh": one of the bundle's languages */
  const char *findings;     /* the instruments' findings text (UTF-8), or NULL (default) */
  int32_t max_tokens;       /* 0 (default): the bundle's */
  float temperature;        /* < 0 (default): the bundle's; 0: greedy */
  float top_p;              /* < 0 (default): the bundle's */
  uint64_t seed;            /* default 0 */
  int32_t check_images;     /* non-zero (default): the auxiliary heads check that each image looks
                               like its modality; one that looks like another is left out */
  float modality_threshold; /* probability of another modality that leaves an image out; default 0.9 */
  ophtha_token_callback token_callback; /* streams the report text; `token` is -1. Default NULL */
  void *token_user_data;
  ophtha_abort_callback abort_callback; /* default NULL */
  void *abort_user_data;
  int32_t candidates;          /* drafts per report; 0 (default): the bundle's; 1: one draft,
                                  streamed as generated; N > 1 (at most 128): N drafts after one
                                  prefill, the first at `temperature`, the others sampled at
                                  candidate_temperature with seeds seed+1 ... seed+N-1; the report is
                                  the draft whose findings and grades agree most with the others'
                                  and with the evidence (evidence_weight)
                                  (minimum Bayes risk), given to token_callback whole once chosen */
  float candidate_temperature; /* <= 0 (default 0): the bundle's */
  float evidence_weight;       /* with N > 1 drafts, how much the auxiliary heads' reading of the
                                  images and the labels the findings text states weigh in choosing
                                  the report among them (1: as much as all the other drafts together;
                                  at most 100); 0 (default): the bundle's; < 0: none, the drafts vote
                                  among themselves only */
  int32_t line_drafts;         /* line refinement (docs/reports.md): each sentence of each line of the
                                  chosen draft is drafted again this many times (at most 128) from
                                  the report so far, sampled at candidate_temperature, and the
                                  sentence agreeing most with the others and the evidence is kept; the report is then given to
                                  token_callback whole. 0 (default): the bundle's; < 0: none */
  int32_t sentence_insertions; /* with line drafts, the most sentences line refinement may insert in
                                  a line (at most 16): a drafted sentence goes in before the draft's
                                  when the line then states all its findings and more and the report
                                  agrees better with the others and the evidence. 0 (default): the
                                  bundle's; < 0: none */
  int32_t guided_drafts;       /* with sentence insertions and the evidence weighed, alternatives per
                                  finding the evidence holds for a line's eye and modality that the
                                  report does not state, each starting with the finding's name and
                                  written on by the model (at most 16); one goes in only as an
                                  insertion that agrees better (docs/reports.md, "Guided
                                  alternatives"). 0 (default): the bundle's; < 0: none */
  int32_t drop_unsupported;    /* > 0: drop the report's list items that state only findings the
                                  evidence reads absent (the auxiliary heads' reading of a gradable
                                  image of that eye and modality, or the findings text, without the
                                  finding; docs/reports.md, "Unsupported findings"); the structured
                                  report is read from the text so pruned. < 0: keep them. 0
                                  (default): the bundle's. A report streamed as generated (one
                                  draft, no line drafts) keeps them */
} ophtha_report_params;

/* As ophtha_model_params_default, for report parameters. */
OPHTHA_API ophtha_status ophtha_report_params_default(ophtha_report_params *params, uint32_t struct_size);

/* A written report: its text and its structured JSON. Immutable; owned by the caller. */
typedef struct ophtha_report ophtha_report;

/* Writes the diagnostic report of one study: `n_images` images (any modalities and eyes; 0 for
 * the text-only route, which then needs findings) read during the call only. Every call starts
 * from an empty context. Streams through params->token_callback (on the calling thread) and, on
 * success, sets *out_report to a new report the caller frees with ophtha_report_free.
 * Errors: INVALID_ARGUMENT (NULL session or out_report, images NULL with n_images > 0, a NULL
 * image, no images and no findings, a language the bundle lacks, bad params), UNSUPPORTED (the
 * session's model is not a model bundle), CONTEXT_OVERFLOW, ABORTED, OUT_OF_MEMORY.
 * One thread at a time per session. */
OPHTHA_API ophtha_status ophtha_report_generate(ophtha_session *session, const ophtha_image *const *images,
                                                size_t n_images, const ophtha_report_params *params,
                                                ophtha_report **out_report);

/* NULL: no-op. */
OPHTHA_API void ophtha_report_free(ophtha_report *report);

/* The report text and its structured JSON (docs/reports.md: per eye findings, diagnosis with the
 * grade on its named scale, referral, follow-up; image checks; the model's disclaimer), both
 * NUL-terminated UTF-8 owned by the report; "" for NULL. */
OPHTHA_API const char *ophtha_report_text(const ophtha_report *report);
OPHTHA_API const char *ophtha_report_json(const ophtha_report *report);

/* Facts about how a report was written. The caller sets struct_size (sizeof(ophtha_report_info));
 * the library fills only the fields that lie inside it. */
typedef struct ophtha_report_info {
  uint32_t struct_size;
  size_t n_prompt_tokens;    /* tokens in the prompt, image embeddings included */
  size_t n_generated_tokens; /* tokens of the report text */
  double embed_seconds;      /* image checks, preprocessing, encoding and projection */
  double prefill_seconds;    /* time spent on the prompt */
  double decode_seconds;     /* time spent generating (every draft) */
  int32_t n_candidates;      /* drafts written (1 without drafting) */
  int32_t chosen_candidate;  /* the index of the draft that became the report */
  int32_t n_refined_lines;   /* lines of the chosen draft in which line refinement replaced,
                                inserted or dropped a sentence (0 without) */
  int32_t n_inserted_sentences; /* sentences line refinement inserted (sentence_insertions) */
  int32_t n_dropped_sentences;  /* sentences of the chosen draft line refinement left out because
                                   they contradicted the report or repeated the sentence before
                                   them word for word (docs/reports.md) */
  int32_t n_guided_sentences;   /* of the inserted sentences, those begun as guided alternatives
                                   (guided_drafts) */
} ophtha_report_info;

/* Describes `report` in *out_info. Errors: INVALID_ARGUMENT (NULL report or out_info, a
 * struct_size of out_info that is not the end of one of its fields). Thread-safe. */
OPHTHA_API ophtha_status ophtha_report_get_info(const ophtha_report *report, ophtha_report_info *out_info);

/* Draft `index` (0 ≤ index < n_candidates of ophtha_report_get_info) of the report, in the order
 * written: *out_text is NUL-terminated UTF-8 owned by the report. Draft chosen_candidate is the
 * report text, unless line refinement replaced sentences of it (n_refined_lines > 0); a report written
 * once has one draft, its text. Errors: INVALID_ARGUMENT (NULL
 * report or out_text, an index outside 0 ... n_candidates − 1, both named). Thread-safe. */
OPHTHA_API ophtha_status ophtha_report_get_draft(const ophtha_report *report, int32_t index, const char **out_text);

/* The image's projected embeddings, what the language model reads in its <image> slot: n_tokens
 * rows of dim floats (row-major) written to `out`, which holds `capacity` floats. When capacity is
 * too small (ask with capacity 0 and out NULL), returns OPHTHA_STATUS_BUFFER_TOO_SMALL having
 * written only *out_n_tokens and *out_dim. Errors: INVALID_ARGUMENT (NULL model, image, out_n_tokens
 * or out_dim; out NULL with capacity > 0), UNSUPPORTED (not a model bundle), OUT_OF_MEMORY.
 * Thread-safe: any number of threads may embed with one model at once. */
OPHTHA_API ophtha_status ophtha_image_embed(const ophtha_model *model, const ophtha_image *image, float *out,
                                            size_t capacity, size_t *out_n_tokens, size_t *out_dim);

/* ---- tools: synthetic studies, evaluation, training ---------------------------------------- */

/* The whole workflow of the command-line tool (ophtha synth / eval / train) as calls, for
 * programs and notebooks. Each runs on the calling thread (synthesis also starts rendering
 * threads of its own, joined before it returns), may take minutes to hours, and touches only the
 * files it names. Different tool calls may run on different threads at once when their output
 * folders differ.
 */

/* Frees a string the library returned through a `char **` out-parameter (ophtha_evaluate,
 * ophtha_train_run). NULL: no-op. Thread-safe. */
OPHTHA_API void ophtha_string_free(char *string);

typedef struct ophtha_synth_params {
  uint32_t struct_size;  /* sizeof(ophtha_synth_params), set by the default */
  const char *out_dir;   /* the output folder: out_dir/manifest.jsonl and out_dir/images/; created
                            when missing, must be empty unless `force`. No default (NULL) */
  int64_t studies;       /* studies to write, 1 .. 999999 (ids syn-000001, ...); default 100 */
  uint64_t seed;         /* the same seed writes the same bytes; default 0 */
  const char *lang;      /* reference reports: "zh", "en" or "both"; NULL (default): "both" */
  double split_train;    /* train, val, test fractions: each in [0, 1], summing to 1; */
  double split_val;      /* default 0.8, 0.1, 0.1 */
  double split_test;
  int32_t threads;       /* rendering threads, 1 .. 256; the output does not depend on it; default 2 */
  int32_t force;         /* non-zero: write into a non-empty out_dir, overwriting files of the same
                            names and touching no other; default 0 */
  ophtha_progress_callback progress_callback; /* fraction of the studies written, about every 0.25 s
                                                 and once at the end; non-zero cancels (ABORTED)
                                                 unless every study is already written.
                                                 NULL: none (default) */
  void *progress_user_data;
} ophtha_synth_params;

/* As ophtha_model_params_default, for synthesis parameters. */
OPHTHA_API ophtha_status ophtha_synth_params_default(ophtha_synth_params *params, uint32_t struct_size);

/* Writes `params->studies` synthetic studies (CFP, OCT, meibography images with their labels and
 * reference reports; docs/synthetic.md) and their manifest, out_dir/manifest.jsonl, which appears
 * only once every study is written. The images carry no clinical validity.
 * Errors: INVALID_ARGUMENT (NULL params or out_dir, bad struct_size, a value out of range: the
 * message names the field and the range, a non-empty out_dir without force), IO (out_dir cannot be
 * created or written), ABORTED (the progress callback cancelled: studies written so far stay, no
 * manifest is written), OUT_OF_MEMORY. Thread-safe for different out_dirs. */
OPHTHA_API ophtha_status ophtha_synth(const ophtha_synth_params *params);

typedef struct ophtha_evaluate_params {
  uint32_t struct_size; /* sizeof(ophtha_evaluate_params), set by the default */
  const char *lang;     /* "zh" or "en": score only that language (also the language of prediction
                           lines without "lang"); NULL (default): every language present */
  const char *split;    /* "train", "val", "test" or "all"; NULL (default): "test" */
} ophtha_evaluate_params;

/* As ophtha_model_params_default, for evaluation parameters. */
OPHTHA_API ophtha_status ophtha_evaluate_params_default(ophtha_evaluate_params *params, uint32_t struct_size);

/* Scores the generated reports in `predictions_path` (JSON Lines: {"id", "lang"?, "report",
 * "structured"?}) against the references and labels of the study manifest `manifest_path`, as
 * `ophtha eval` does (docs/evaluation.md): BLEU-1..4, ROUGE-L, CIDEr-D, METEOR and the clinical
 * metrics per language. Malformed lines, unknown ids and repeats are counted, not fatal. When
 * `out_dir` is not NULL it also writes out_dir/metrics.json, summary.md and the plots. `params`
 * NULL means defaults. On success, when out_result_json is not NULL, *out_result_json is the
 * results JSON (what metrics.json holds), NUL-terminated, which the caller frees with
 * ophtha_string_free.
 * Errors: INVALID_ARGUMENT (NULL manifest_path or predictions_path, bad params: the message names
 * the field), IO (a file cannot be read, out_dir cannot be written), INVALID_FORMAT (a manifest
 * line breaks docs/manifest.schema.json: the message names the file and line), OUT_OF_MEMORY.
 * Thread-safe. */
OPHTHA_API ophtha_status ophtha_evaluate(const char *manifest_path, const char *predictions_path,
                                         const char *out_dir, const ophtha_evaluate_params *params,
                                         char **out_result_json);

/* One optimizer step of a training run, as the step callback sees it; valid during the call only. */
typedef struct ophtha_train_step {
  uint32_t struct_size;          /* sizeof(ophtha_train_step) of the library */
  const char *stage;             /* "language", "vision" or "multimodal" */
  int64_t step;                  /* optimizer steps done, this one included */
  int64_t total_steps;           /* steps of the whole run */
  double loss;                   /* the step's training loss */
  double lr;                     /* the step's learning rate */
  double seconds;                /* wall time of the step */
  int64_t items;                 /* tokens (language, multimodal) or images (vision) in the step */
  int32_t has_validation_loss;   /* non-zero when validation ran after this step */
  double validation_loss;        /* valid when has_validation_loss */
} ophtha_train_step;

/* Called on the training thread after every optimizer step. Return 0 to continue, non-zero to
 * stop the run after this step; it stays resumable and ophtha_train_run returns OK. Read only the
 * fields that lie inside step->struct_size. */
typedef int32_t (*ophtha_train_step_callback)(const ophtha_train_step *step, void *user_data);

typedef struct ophtha_train_params {
  uint32_t struct_size;                     /* sizeof(ophtha_train_params), set by the default */
  int32_t resume;                           /* non-zero: continue from the configuration's
                                               checkpoint; default 0 */
  int64_t max_steps;                        /* stop after this many more steps (the run stays
                                               resumable); < 0 (default -1): no limit */
  ophtha_train_step_callback step_callback; /* NULL: none (default) */
  void *step_user_data;
} ophtha_train_params;

/* As ophtha_model_params_default, for training parameters. */
OPHTHA_API ophtha_status ophtha_train_params_default(ophtha_train_params *params, uint32_t struct_size);

/* Runs the training configuration file `config_path` (JSON; its "stage" key picks the language,
 * vision or multimodal stage; docs/training.md), as `ophtha train --config` does: checkpoints and
 * outputs go where the configuration says. `params` NULL means defaults. On success, when
 * out_result_json is not NULL, *out_result_json is {"stage", "step", "total_steps", "complete",
 * "outputs": [paths written]} ("complete" false when max_steps or the callback stopped the run
 * early), NUL-terminated, freed by the caller with ophtha_string_free.
 * Errors: INVALID_ARGUMENT (NULL config_path, bad params, a configuration key out of range: the
 * message names the file and key), IO (a file cannot be read or written), INVALID_FORMAT (a broken
 * configuration, data or checkpoint file), UNSUPPORTED, OUT_OF_MEMORY. The run is single-threaded
 * from the caller's view; two runs at once must not share output folders. */
OPHTHA_API ophtha_status ophtha_train_run(const char *config_path, const ophtha_train_params *params,
                                          char **out_result_json);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* OPHTHA_H */
