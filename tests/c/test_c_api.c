/* The C ABI from C99 (-Wall -Wextra -Werror -pedantic), linked to libophtha.so: every call of
 * ophtha.h on a small seeded model, and the misuse a vendor program can commit — NULL handles,
 * wrong and truncated struct sizes, buffers too small, context overflow, abort — each giving its
 * documented status and message, with out-parameters left untouched.
 *
 *   test_c_api MODEL.gguf WORK_DIR      (ctest generates the model first; see tests/CMakeLists.txt) */
#define _POSIX_C_SOURCE 200809L
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "ophtha/ophtha.h"

static const char *work_dir = ".";

static void path_in_work_dir(char *out, size_t size, const char *name) {
  snprintf(out, size, "%s/%s", work_dir, name);
}

static void write_file(const char *path, const void *bytes, size_t size) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(bytes, 1, size, f) != size) {
    fprintf(stderr, "cannot write %s\n", path);
    exit(2);
  }
  fclose(f);
}

/* 1 when the bytes are well-formed UTF-8 (no truncated or overlong sequence). */
static int is_utf8(const char *text, size_t length) {
  const unsigned char *s = (const unsigned char *)text;
  size_t i = 0;
  while (i < length) {
    size_t n;
    if (s[i] < 0x80) n = 1;
    else if ((s[i] & 0xE0) == 0xC0 && s[i] >= 0xC2) n = 2;
    else if ((s[i] & 0xF0) == 0xE0) n = 3;
    else if ((s[i] & 0xF8) == 0xF0 && s[i] <= 0xF4) n = 4;
    else return 0;
    if (i + n > length) return 0;
    for (size_t k = 1; k < n; ++k)
      if ((s[i + k] & 0xC0) != 0x80) return 0;
    i += n;
  }
  return 1;
}

/* ---- versions, statuses, logging ------------------------------------------------------------ */

static void test_versions_and_statuses(void) {
  char expected[32];
  CHECK(ophtha_abi_version() == OPHTHA_ABI_VERSION);
  CHECK(ophtha_version_number() == OPHTHA_VERSION_NUMBER);
  snprintf(expected, sizeof expected, "%d.%d.%d", OPHTHA_VERSION_MAJOR, OPHTHA_VERSION_MINOR, OPHTHA_VERSION_PATCH);
  CHECK(strcmp(ophtha_version(), expected) == 0);
  CHECK(strcmp(ophtha_status_string(OPHTHA_STATUS_OK), "ok") == 0);
  CHECK(strcmp(ophtha_status_string(OPHTHA_STATUS_CONTEXT_OVERFLOW), "context overflow") == 0);
  CHECK(strcmp(ophtha_status_string(OPHTHA_STATUS_ABORTED), "aborted") == 0);
  CHECK(strcmp(ophtha_status_string(12345), "unknown status") == 0);
  CHECK(strcmp(ophtha_status_string(-1), "unknown status") == 0);
}

struct log_record {
  int info_lines_with_layers;
  int debug_lines;
};

static void record_log(ophtha_log_level level, const char *message, void *user_data) {
  struct log_record *r = (struct log_record *)user_data;
  if (level == OPHTHA_LOG_INFO && strstr(message, "layers")) ++r->info_lines_with_layers;
  if (level == OPHTHA_LOG_DEBUG) ++r->debug_lines;
}

/* ---- model ---------------------------------------------------------------------------------- */

struct progress_record {
  int calls;
  float last;
  int decreasing;
  int cancel_after; /* 0: never */
};

static int32_t record_progress(float fraction, void *user_data) {
  struct progress_record *p = (struct progress_record *)user_data;
  if (fraction < p->last) p->decreasing = 1;
  p->last = fraction;
  ++p->calls;
  return p->cancel_after && p->calls >= p->cancel_after;
}

static ophtha_model *test_model_load(const char *model_path) {
  ophtha_model *const sentinel = (ophtha_model *)&failures;
  ophtha_model *model = sentinel;
  ophtha_model_params params;
  struct progress_record progress = {0, 0.f, 0, 0};
  struct log_record log = {0, 0};
  char path[1024];

  ophtha_log_set(record_log, &log, OPHTHA_LOG_DEBUG);

  /* Load errors leave *out_model as it was. */
  CHECK_STATUS(ophtha_model_load(NULL, NULL, &model), OPHTHA_STATUS_INVALID_ARGUMENT, "path is NULL");
  CHECK_STATUS(ophtha_model_load(model_path, NULL, NULL), OPHTHA_STATUS_INVALID_ARGUMENT, "out_model is NULL");
  path_in_work_dir(path, sizeof path, "c-api-missing.gguf");
  CHECK_STATUS(ophtha_model_load(path, NULL, &model), OPHTHA_STATUS_IO, "c-api-missing.gguf");
  path_in_work_dir(path, sizeof path, "c-api-garbage.gguf");
  write_file(path, "this is not a gguf file, just text", 34);
  CHECK_STATUS(ophtha_model_load(path, NULL, &model), OPHTHA_STATUS_INVALID_FORMAT, "c-api-garbage.gguf");
  path_in_work_dir(path, sizeof path, "c-api-bundle");
  mkdir(path, 0755);
  path_in_work_dir(path, sizeof path, "c-api-bundle/ophtha-bundle.json");
  write_file(path, "{}", 2);
  path_in_work_dir(path, sizeof path, "c-api-bundle");
  CHECK_STATUS(ophtha_model_load(path, NULL, &model), OPHTHA_STATUS_INVALID_FORMAT, "model bundle manifest");
  CHECK(log.debug_lines >= 4); /* each failure is logged at debug level */

  /* The progress callback can cancel. */
  CHECK_STATUS(ophtha_model_params_default(&params, sizeof params), OPHTHA_STATUS_OK, NULL);
  CHECK(params.struct_size == sizeof params && params.progress_callback == NULL);
  params.progress_callback = record_progress;
  params.progress_user_data = &progress;
  progress.cancel_after = 2;
  CHECK_STATUS(ophtha_model_load(model_path, &params, &model), OPHTHA_STATUS_ABORTED, "");
  CHECK(progress.calls == 2);
  CHECK(model == sentinel);

  progress.cancel_after = 0;
  progress.calls = 0;
  progress.last = 0.f;
  CHECK_STATUS(ophtha_model_load(model_path, &params, &model), OPHTHA_STATUS_OK, NULL);
  CHECK(strcmp(ophtha_last_error_message(), "") == 0);
  CHECK(model != sentinel && model != NULL);
  CHECK(progress.calls > 2 && !progress.decreasing && progress.last == 1.0f);
  CHECK(log.info_lines_with_layers == 1);

  ophtha_log_set(NULL, NULL, OPHTHA_LOG_NONE);
  CHECK(ophtha_model_n_vocab(model) == 32000);
  CHECK(ophtha_model_context_length(model) == 64);
  CHECK(ophtha_model_token_bos(model) == 1 && ophtha_model_token_eos(model) == 2);
  CHECK(ophtha_model_n_vocab(NULL) == 0 && ophtha_model_context_length(NULL) == 0);
  return model;
}

/* ---- tokens --------------------------------------------------------------------------------- */

static void test_tokens(const ophtha_model *model) {
  const char *text = "Hello world";
  int32_t tokens[64];
  int32_t untouched[2] = {-7, -7};
  size_t n = 999, needed = 0;
  char out[64];
  size_t length = 0;
  int32_t bad[3];

  /* Size query, then a buffer too small, then enough. */
  CHECK_STATUS(ophtha_tokenize(model, text, strlen(text), 1, NULL, 0, &needed), OPHTHA_STATUS_BUFFER_TOO_SMALL,
               "buffer holds 0");
  CHECK(needed >= 3);
  CHECK_STATUS(ophtha_tokenize(model, text, strlen(text), 1, untouched, 1, &n), OPHTHA_STATUS_BUFFER_TOO_SMALL,
               "call again with capacity >= ");
  CHECK(n == needed && untouched[0] == -7);
  CHECK_STATUS(ophtha_tokenize(model, text, strlen(text), 1, tokens, needed, &n), OPHTHA_STATUS_OK, NULL);
  CHECK(n == needed && tokens[0] == ophtha_model_token_bos(model));
  CHECK_STATUS(ophtha_tokenize(model, "", 0, 0, tokens, 64, &n), OPHTHA_STATUS_OK, NULL);
  CHECK(n == 0);
  CHECK_STATUS(ophtha_tokenize(NULL, text, 5, 1, tokens, 64, &n), OPHTHA_STATUS_INVALID_ARGUMENT, "model is NULL");
  CHECK_STATUS(ophtha_tokenize(model, NULL, 5, 1, tokens, 64, &n), OPHTHA_STATUS_INVALID_ARGUMENT, "text");
  CHECK_STATUS(ophtha_tokenize(model, text, 5, 1, NULL, 64, &n), OPHTHA_STATUS_INVALID_ARGUMENT, "tokens");

  /* Round trip, with the same protocol for the text buffer. */
  CHECK_STATUS(ophtha_tokenize(model, text, strlen(text), 1, tokens, 64, &n), OPHTHA_STATUS_OK, NULL);
  CHECK_STATUS(ophtha_detokenize(model, tokens, n, out, 4, &length), OPHTHA_STATUS_BUFFER_TOO_SMALL,
               "capacity >= 12");
  CHECK(length == strlen(text));
  CHECK_STATUS(ophtha_detokenize(model, tokens, n, out, sizeof out, &length), OPHTHA_STATUS_OK, NULL);
  CHECK(length == strlen(text) && strcmp(out, text) == 0);
  bad[0] = 1;
  bad[1] = 32000;
  bad[2] = 5;
  CHECK_STATUS(ophtha_detokenize(model, bad, 3, out, sizeof out, &length), OPHTHA_STATUS_INVALID_ARGUMENT,
               "tokens[1] is 32000");
}

/* ---- generation ----------------------------------------------------------------------------- */

struct stream {
  char text[4096];
  size_t length;
  int calls;
  int bad_utf8;
  int stop_after; /* 0: never */
};

static int32_t collect(const char *text, size_t length, int32_t token, void *user_data) {
  struct stream *s = (struct stream *)user_data;
  (void)token;
  if (!is_utf8(text, length) || text[length] != '\0') s->bad_utf8 = 1;
  if (s->length + length < sizeof s->text) {
    memcpy(s->text + s->length, text, length);
    s->length += length;
    s->text[s->length] = '\0';
  }
  ++s->calls;
  return s->stop_after && s->calls >= s->stop_after;
}

struct abort_counter {
  int polls;
  int abort_at;
};

static int32_t abort_after(void *user_data) {
  struct abort_counter *a = (struct abort_counter *)user_data;
  return ++a->polls >= a->abort_at;
}

static void test_generation(const ophtha_model *model) {
  ophtha_session *session = NULL;
  ophtha_session *const sentinel = (ophtha_session *)&failures;
  ophtha_session *small = sentinel;
  ophtha_session_params sp;
  ophtha_generate_params gp;
  ophtha_generation g, again, untouched;
  struct stream s;
  struct abort_counter abort_state = {0, 0};
  char first[4096], stop[8];
  const char *stops[1];
  size_t n_first;

  CHECK_STATUS(ophtha_session_params_default(&sp, sizeof sp), OPHTHA_STATUS_OK, NULL);
  CHECK(sp.n_threads == 0 && sp.context_length == 0);
  sp.n_threads = 1;
  CHECK_STATUS(ophtha_session_create(model, &sp, &session), OPHTHA_STATUS_OK, NULL);
  CHECK(ophtha_session_context_length(session) == 64);

  /* Greedy generation streamed: the pieces are whole UTF-8 and add up to the text. */
  CHECK_STATUS(ophtha_generate_params_default(&gp, sizeof gp), OPHTHA_STATUS_OK, NULL);
  CHECK(gp.max_tokens == 128 && gp.top_k == 40 && gp.add_bos == 1 && gp.token_callback == NULL);
  gp.temperature = 0.f;
  gp.max_tokens = 24;
  gp.ignore_eos = 1;
  memset(&s, 0, sizeof s);
  gp.token_callback = collect;
  gp.token_user_data = &s;
  g.struct_size = sizeof g;
  CHECK_STATUS(ophtha_generate(session, "The fundus shows", &gp, &g), OPHTHA_STATUS_OK, NULL);
  CHECK(g.stop_reason == OPHTHA_STOP_TOKEN_LIMIT);
  CHECK(g.n_tokens == 24 && g.n_prompt_tokens >= 3 && g.text_length == strlen(g.text));
  CHECK(!s.bad_utf8 && s.calls >= 24);
  CHECK(s.length == g.text_length && strcmp(s.text, g.text) == 0);
  CHECK(g.prefill_seconds >= 0 && g.decode_seconds > 0);
  snprintf(first, sizeof first, "%s", g.text);
  n_first = g.n_tokens;

  /* Every call starts afresh: the same call gives the same text. */
  again.struct_size = sizeof again;
  gp.token_callback = NULL;
  CHECK_STATUS(ophtha_generate(session, "The fundus shows", &gp, &again), OPHTHA_STATUS_OK, NULL);
  CHECK(strcmp(again.text, first) == 0 && again.n_tokens == n_first);

  /* A stop string taken from the middle of that text ends generation just before it. */
  if (strlen(first) > 12) {
    const char *at;
    memcpy(stop, first + 8, 3);
    stop[3] = '\0';
    at = strstr(first, stop);
    stops[0] = stop;
    gp.stop_strings = stops;
    gp.n_stop_strings = 1;
    if (is_utf8(stop, 3)) {
      CHECK_STATUS(ophtha_generate(session, "The fundus shows", &gp, &g), OPHTHA_STATUS_OK, NULL);
      CHECK(g.stop_reason == OPHTHA_STOP_STRING);
      CHECK(g.text_length == (size_t)(at - first) && strncmp(g.text, first, g.text_length) == 0);
    }
    stops[0] = "";
    CHECK_STATUS(ophtha_generate(session, "x", &gp, &g), OPHTHA_STATUS_INVALID_ARGUMENT, "stop_strings[0] is empty");
    gp.stop_strings = NULL;
    CHECK_STATUS(ophtha_generate(session, "x", &gp, &g), OPHTHA_STATUS_INVALID_ARGUMENT, "stop_strings");
    gp.n_stop_strings = 0;
  } else {
    fprintf(stderr, "generated text too short for the stop-string check: '%s'\n", first);
    ++failures;
  }

  /* The token callback ends generation cleanly. */
  memset(&s, 0, sizeof s);
  s.stop_after = 3;
  gp.token_callback = collect;
  gp.token_user_data = &s;
  CHECK_STATUS(ophtha_generate(session, "The fundus shows", &gp, &g), OPHTHA_STATUS_OK, NULL);
  CHECK(g.stop_reason == OPHTHA_STOP_CANCELLED && g.n_tokens == 3);
  gp.token_callback = NULL;

  /* The abort callback stops with ABORTED, during the prompt (per layer) and during decoding
   * (per token), and nothing is written. */
  memset(&untouched, 0xAB, sizeof untouched);
  untouched.struct_size = sizeof untouched;
  gp.abort_callback = abort_after;
  gp.abort_user_data = &abort_state;
  abort_state.abort_at = 1;
  CHECK_STATUS(ophtha_generate(session, "The fundus shows", &gp, &untouched), OPHTHA_STATUS_ABORTED, "layer 0");
  abort_state.polls = 0;
  abort_state.abort_at = 10;
  CHECK_STATUS(ophtha_generate(session, "The fundus shows", &gp, &untouched), OPHTHA_STATUS_ABORTED, "aborted");
  CHECK(abort_state.polls == 10);
  CHECK(untouched.stop_reason == (int32_t)0xABABABAB && untouched.text_length == (size_t)-1 / 0xFF * 0xAB);
  gp.abort_callback = NULL;

  /* Parameters out of range name the field. */
  gp.top_p = 0.f;
  CHECK_STATUS(ophtha_generate(session, "x", &gp, &g), OPHTHA_STATUS_INVALID_ARGUMENT, "top_p");
  gp.top_p = 0.95f;
  gp.max_tokens = -1;
  CHECK_STATUS(ophtha_generate(session, "x", &gp, &g), OPHTHA_STATUS_INVALID_ARGUMENT, "max_tokens");
  gp.max_tokens = 24;
  gp.add_bos = 0;
  CHECK_STATUS(ophtha_generate(session, "", &gp, &g), OPHTHA_STATUS_INVALID_ARGUMENT, "no tokens");
  gp.add_bos = 1;

  /* Context overflow: a prompt longer than the session's context. */
  sp.context_length = 8;
  CHECK_STATUS(ophtha_session_create(model, &sp, &small), OPHTHA_STATUS_OK, NULL);
  CHECK(ophtha_session_context_length(small) == 8);
  CHECK_STATUS(ophtha_generate(small, "one two three four five six seven eight nine ten", &gp, &g),
               OPHTHA_STATUS_CONTEXT_OVERFLOW, "context length 8");
  /* A prompt that fits generates until the context is full. */
  CHECK_STATUS(ophtha_generate(small, "one", &gp, &g), OPHTHA_STATUS_OK, NULL);
  CHECK(g.stop_reason == OPHTHA_STOP_TOKEN_LIMIT && g.n_prompt_tokens + g.n_tokens == 9);
  ophtha_session_free(small);
  small = sentinel;
  sp.context_length = 1000;
  CHECK_STATUS(ophtha_session_create(model, &sp, &small), OPHTHA_STATUS_INVALID_ARGUMENT, "context_length");
  sp.context_length = 0;
  sp.n_threads = -1;
  CHECK_STATUS(ophtha_session_create(model, &sp, &small), OPHTHA_STATUS_INVALID_ARGUMENT, "n_threads");
  CHECK(small == sentinel);

  /* NULL handles. */
  CHECK_STATUS(ophtha_session_create(NULL, NULL, &small), OPHTHA_STATUS_INVALID_ARGUMENT, "model is NULL");
  CHECK_STATUS(ophtha_session_create(model, NULL, NULL), OPHTHA_STATUS_INVALID_ARGUMENT, "out_session is NULL");
  CHECK_STATUS(ophtha_generate(NULL, "x", NULL, NULL), OPHTHA_STATUS_INVALID_ARGUMENT, "session is NULL");
  CHECK_STATUS(ophtha_generate(session, NULL, NULL, NULL), OPHTHA_STATUS_INVALID_ARGUMENT, "prompt is NULL");
  CHECK(ophtha_session_context_length(NULL) == 0);

  ophtha_session_free(session);
}

/* ---- struct sizes --------------------------------------------------------------------------- */

/* What a program built against an older ophtha.h holds: a prefix of today's struct. */
struct old_generate_params {
  uint32_t struct_size;
  int32_t max_tokens;
  float temperature;
};

/* What a program built against a newer ophtha.h holds: today's struct and a field after it. */
struct newer_generate_params {
  ophtha_generate_params params;
  uint64_t field_from_the_future;
};

static void test_struct_sizes(const ophtha_model *model) {
  ophtha_session *session = NULL;
  struct old_generate_params old;
  struct newer_generate_params newer;
  ophtha_generate_params full;
  ophtha_generation g, prefix;
  char expected[4096];
  const double marker = 12345.0;

  CHECK_STATUS(ophtha_session_create(model, NULL, &session), OPHTHA_STATUS_OK, NULL);

  /* An older struct: its own fields are read, the rest take their defaults. */
  memset(&old, 0xEE, sizeof old);
  CHECK_STATUS(ophtha_generate_params_default((ophtha_generate_params *)&old, sizeof old), OPHTHA_STATUS_OK, NULL);
  CHECK(old.struct_size == sizeof old && old.max_tokens == 128);
  old.max_tokens = 6;
  old.temperature = 0.f;
  g.struct_size = sizeof g;
  CHECK_STATUS(ophtha_generate(session, "Macula", (const ophtha_generate_params *)&old, &g), OPHTHA_STATUS_OK, NULL);
  snprintf(expected, sizeof expected, "%s", g.text);
  CHECK(g.n_tokens <= 6);
  CHECK_STATUS(ophtha_generate_params_default(&full, sizeof full), OPHTHA_STATUS_OK, NULL);
  full.max_tokens = 6;
  full.temperature = 0.f;
  CHECK_STATUS(ophtha_generate(session, "Macula", &full, &g), OPHTHA_STATUS_OK, NULL);
  CHECK(strcmp(g.text, expected) == 0);

  /* A newer struct: accepted while the unknown field is zero, refused once it is set. */
  memset(&newer, 0xEE, sizeof newer);
  CHECK_STATUS(ophtha_generate_params_default(&newer.params, sizeof newer), OPHTHA_STATUS_OK, NULL);
  CHECK(newer.params.struct_size == sizeof newer && newer.field_from_the_future == 0);
  newer.params.max_tokens = 6;
  newer.params.temperature = 0.f;
  CHECK_STATUS(ophtha_generate(session, "Macula", &newer.params, &g), OPHTHA_STATUS_OK, NULL);
  CHECK(strcmp(g.text, expected) == 0);
  newer.field_from_the_future = 1;
  CHECK_STATUS(ophtha_generate(session, "Macula", &newer.params, &g), OPHTHA_STATUS_UNSUPPORTED, "byte offset");

  /* Sizes no ophtha.h ever had. */
  full.struct_size = 3;
  CHECK_STATUS(ophtha_generate(session, "Macula", &full, &g), OPHTHA_STATUS_INVALID_ARGUMENT, "struct_size is 3");
  full.struct_size = 0;
  CHECK_STATUS(ophtha_generate(session, "Macula", &full, &g), OPHTHA_STATUS_INVALID_ARGUMENT, "struct_size is 0");
  full.struct_size = (uint32_t)offsetof(ophtha_generate_params, temperature) + 2; /* half a field */
  CHECK_STATUS(ophtha_generate(session, "Macula", &full, &g), OPHTHA_STATUS_INVALID_ARGUMENT, "struct_size");
  full.struct_size = OPHTHA_MAX_STRUCT_SIZE + 8;
  CHECK_STATUS(ophtha_generate(session, "Macula", &full, &g), OPHTHA_STATUS_INVALID_ARGUMENT, "struct_size");
  CHECK_STATUS(ophtha_generate_params_default(&full, 2), OPHTHA_STATUS_INVALID_ARGUMENT, "struct_size is 2");
  CHECK_STATUS(ophtha_generate_params_default(NULL, sizeof full), OPHTHA_STATUS_INVALID_ARGUMENT, "params is NULL");
  CHECK_STATUS(ophtha_session_params_default(NULL, 8), OPHTHA_STATUS_INVALID_ARGUMENT, "params is NULL");

  /* An older ophtha_generation: only the fields inside its struct_size are written. */
  full.struct_size = sizeof full;
  prefix.struct_size = (uint32_t)(offsetof(ophtha_generation, text_length) + sizeof prefix.text_length);
  prefix.n_tokens = 77;
  prefix.decode_seconds = marker;
  CHECK_STATUS(ophtha_generate(session, "Macula", &full, &prefix), OPHTHA_STATUS_OK, NULL);
  CHECK(prefix.text != NULL && strcmp(prefix.text, expected) == 0);
  CHECK(prefix.n_tokens == 77 && prefix.decode_seconds == marker);
  prefix.struct_size = 5;
  CHECK_STATUS(ophtha_generate(session, "Macula", &full, &prefix), OPHTHA_STATUS_INVALID_ARGUMENT,
               "ophtha_generation.struct_size is 5");

  ophtha_session_free(session);
}

/* ---- images --------------------------------------------------------------------------------- */

/* A 2 x 2 24-bit BMP: top row red, green; bottom row blue, white (stored bottom-up, BGR). */
static const unsigned char bmp_2x2[70] = {
    'B', 'M', 70, 0, 0, 0, 0, 0, 0, 0, 54, 0, 0, 0,                            /* file header */
    40, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 24, 0, 0, 0, 0, 0, 16, 0, 0, 0, /* info header */
    0x13, 0x0B, 0, 0, 0x13, 0x0B, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    255, 0, 0, 255, 255, 255, 0, 0, /* bottom row: blue, white, padding */
    0, 0, 255, 0, 255, 0, 0, 0};    /* top row: red, green, padding */

static void test_images(void) {
  ophtha_image *const sentinel = (ophtha_image *)&failures;
  ophtha_image *image = sentinel;
  /* 2 x 2 RGB8 in rows of 8 bytes (2 bytes of padding each). */
  const unsigned char frame[16] = {1, 2, 3, 4, 5, 6, 99, 99, 7, 8, 9, 10, 11, 12, 99, 99};
  const unsigned char packed[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  const unsigned char decoded[12] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255};
  const uint16_t gray16[2] = {1000, 65535};
  char path[1024];

  CHECK_STATUS(ophtha_image_from_pixels(frame, 2, 2, 8, OPHTHA_PIXEL_RGB8, OPHTHA_MODALITY_CFP, OPHTHA_EYE_OS, &image),
               OPHTHA_STATUS_OK, NULL);
  CHECK(ophtha_image_width(image) == 2 && ophtha_image_height(image) == 2);
  CHECK(ophtha_image_format(image) == OPHTHA_PIXEL_RGB8);
  CHECK(ophtha_image_modality(image) == OPHTHA_MODALITY_CFP && ophtha_image_eye(image) == OPHTHA_EYE_OS);
  CHECK(memcmp(ophtha_image_pixels(image), packed, sizeof packed) == 0);
  ophtha_image_free(image);

  image = sentinel;
  CHECK_STATUS(ophtha_image_from_pixels(gray16, 2, 1, 4, OPHTHA_PIXEL_GRAY16, OPHTHA_MODALITY_OCT, OPHTHA_EYE_OD,
                                        &image),
               OPHTHA_STATUS_OK, NULL);
  CHECK(ophtha_image_format(image) == OPHTHA_PIXEL_GRAY16 && ophtha_image_modality(image) == OPHTHA_MODALITY_OCT);
  CHECK(((const uint16_t *)ophtha_image_pixels(image))[1] == 65535);
  ophtha_image_free(image);

  CHECK_STATUS(ophtha_image_load_memory(bmp_2x2, sizeof bmp_2x2, OPHTHA_MODALITY_OSA, OPHTHA_EYE_OD, &image),
               OPHTHA_STATUS_OK, NULL);
  CHECK(ophtha_image_width(image) == 2 && ophtha_image_format(image) == OPHTHA_PIXEL_RGB8);
  CHECK(memcmp(ophtha_image_pixels(image), decoded, sizeof decoded) == 0);
  ophtha_image_free(image);

  path_in_work_dir(path, sizeof path, "c-api-2x2.bmp");
  write_file(path, bmp_2x2, sizeof bmp_2x2);
  CHECK_STATUS(ophtha_image_load_file(path, OPHTHA_MODALITY_CFP, OPHTHA_EYE_OS, &image), OPHTHA_STATUS_OK, NULL);
  CHECK(ophtha_image_height(image) == 2 && memcmp(ophtha_image_pixels(image), decoded, sizeof decoded) == 0);
  ophtha_image_free(image);

  /* Misuse: every failure names the field and leaves *out_image alone. */
  image = sentinel;
  CHECK_STATUS(ophtha_image_from_pixels(frame, 2, 2, 8, 0, OPHTHA_MODALITY_CFP, OPHTHA_EYE_OS, &image),
               OPHTHA_STATUS_INVALID_ARGUMENT, "format is 0");
  CHECK_STATUS(ophtha_image_from_pixels(frame, 2, 2, 5, OPHTHA_PIXEL_RGB8, OPHTHA_MODALITY_CFP, OPHTHA_EYE_OS, &image),
               OPHTHA_STATUS_INVALID_ARGUMENT, "row_stride 5");
  CHECK_STATUS(ophtha_image_from_pixels(frame, 0, 2, 8, OPHTHA_PIXEL_RGB8, OPHTHA_MODALITY_CFP, OPHTHA_EYE_OS, &image),
               OPHTHA_STATUS_INVALID_ARGUMENT, "width and height");
  CHECK_STATUS(ophtha_image_from_pixels(frame, 2, 2, 8, OPHTHA_PIXEL_RGB8, 9, OPHTHA_EYE_OS, &image),
               OPHTHA_STATUS_INVALID_ARGUMENT, "modality is 9");
  CHECK_STATUS(ophtha_image_from_pixels(frame, 2, 2, 8, OPHTHA_PIXEL_RGB8, OPHTHA_MODALITY_CFP, 0, &image),
               OPHTHA_STATUS_INVALID_ARGUMENT, "eye is 0");
  CHECK_STATUS(ophtha_image_from_pixels(NULL, 2, 2, 8, OPHTHA_PIXEL_RGB8, OPHTHA_MODALITY_CFP, OPHTHA_EYE_OS, &image),
               OPHTHA_STATUS_INVALID_ARGUMENT, "pixels is NULL");
  CHECK_STATUS(ophtha_image_load_memory(bmp_2x2, 30, OPHTHA_MODALITY_CFP, OPHTHA_EYE_OS, &image),
               OPHTHA_STATUS_INVALID_FORMAT, "");
  CHECK_STATUS(ophtha_image_load_memory("plain text, no image", 20, OPHTHA_MODALITY_CFP, OPHTHA_EYE_OS, &image),
               OPHTHA_STATUS_UNSUPPORTED, "");
  path_in_work_dir(path, sizeof path, "c-api-missing.png");
  CHECK_STATUS(ophtha_image_load_file(path, OPHTHA_MODALITY_CFP, OPHTHA_EYE_OS, &image), OPHTHA_STATUS_IO,
               "c-api-missing.png");
  CHECK(image == sentinel);
  CHECK(ophtha_image_width(NULL) == 0 && ophtha_image_format(NULL) == 0 && ophtha_image_pixels(NULL) == NULL);
}

int main(int argc, char **argv) {
  ophtha_model *model;
  if (argc != 3) {
    fprintf(stderr, "usage: %s MODEL.gguf WORK_DIR\n", argv[0]);
    return 2;
  }
  work_dir = argv[2];
  test_versions_and_statuses();
  model = test_model_load(argv[1]);
  test_tokens(model);
  test_generation(model);
  test_struct_sizes(model);
  test_images();
  ophtha_model_free(model);

  /* Every free function accepts NULL. */
  ophtha_model_free(NULL);
  ophtha_session_free(NULL);
  ophtha_image_free(NULL);

  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("C API: all checks passed\n");
  return 0;
}
