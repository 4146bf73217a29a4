/* The report calls of the C ABI from C99 (-Wall -Wextra -Werror -pedantic), linked to
 * libophtha.so, on a model bundle of seeded random weights (tests/tools/make_random_bundle.py) and
 * the bundled example study: a report streams, its JSON holds the text and the disclaimer, its
 * info gives token counts and timings (to an older struct only its own fields), image
 * embeddings follow the buffer-size protocol, and misuse gets its documented status.
 *
 *   test_c_report BUNDLE_DIR PLAIN_MODEL.gguf EXAMPLE_IMAGES_DIR */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ophtha/ophtha.h"

typedef struct {
  char text[8192];
  size_t length;
  int calls;
  int stop_after; /* 0: never */
} Stream;

static int32_t on_text(const char *text, size_t length, int32_t token, void *user_data) {
  Stream *s = (Stream *)user_data;
  if (token != -1 || strlen(text) != length || s->length + length >= sizeof s->text) return 1;
  memcpy(s->text + s->length, text, length);
  s->length += length;
  s->text[s->length] = '\0';
  ++s->calls;
  return s->stop_after > 0 && s->calls >= s->stop_after;
}

static int32_t always_abort(void *user_data) {
  (void)user_data;
  return 1;
}

int main(int argc, char **argv) {
  ophtha_model *bundle = NULL, *plain = NULL;
  ophtha_session *session = NULL, *plain_session = NULL;
  ophtha_image *images[6] = {NULL, NULL, NULL, NULL, NULL, NULL};
  ophtha_report *report = NULL, *untouched = (ophtha_report *)&failures;
  ophtha_report_params params;
  ophtha_report_info info, older;
  Stream stream;
  char path[2048];
  char greedy[8192]; /* the first report's text: the greedy draft of the same prompt */
  const char *names[6] = {"OD_cfp.jpg", "OD_oct.png", "OD_osa.png", "OS_cfp.jpg", "OS_oct.png", "OS_osa.png"};
  const ophtha_modality modalities[3] = {OPHTHA_MODALITY_CFP, OPHTHA_MODALITY_OCT, OPHTHA_MODALITY_OSA};
  size_t n_tokens = 0, dim = 0, i;
  float *embedding;

  if (argc != 4) {
    fprintf(stderr, "usage: test_c_report BUNDLE_DIR PLAIN_MODEL.gguf EXAMPLE_IMAGES_DIR\n");
    return 2;
  }
  CHECK_STATUS(ophtha_model_load(argv[1], NULL, &bundle), OPHTHA_STATUS_OK, NULL);
  CHECK_STATUS(ophtha_model_load(argv[2], NULL, &plain), OPHTHA_STATUS_OK, NULL);
  if (!bundle || !plain) return 1;
  CHECK(ophtha_model_has_vision(bundle) == 1);
  CHECK(ophtha_model_has_vision(plain) == 0);
  CHECK(ophtha_model_has_vision(NULL) == 0);
  CHECK_STATUS(ophtha_session_create(bundle, NULL, &session), OPHTHA_STATUS_OK, NULL);
  CHECK_STATUS(ophtha_session_create(plain, NULL, &plain_session), OPHTHA_STATUS_OK, NULL);
  for (i = 0; i < 6; ++i) {
    snprintf(path, sizeof path, "%s/syn-000033_%s", argv[3], names[i]);
    CHECK_STATUS(ophtha_image_load_file(path, modalities[i % 3], i < 3 ? OPHTHA_EYE_OD : OPHTHA_EYE_OS, &images[i]),
                 OPHTHA_STATUS_OK, NULL);
  }

  /* A streamed report: the pieces are the text; the JSON holds the text and the disclaimer. */
  CHECK_STATUS(ophtha_report_params_default(&params, sizeof params), OPHTHA_STATUS_OK, NULL);
  CHECK(params.lang == NULL && params.check_images == 1 && params.max_tokens == 0);
  memset(&stream, 0, sizeof stream);
  params.lang = "zh";
  params.findings = "IOP 16 mmHg OU";
  params.max_tokens = 16;
  params.temperature = 0.0f;
  params.check_images = 0;
  params.token_callback = on_text;
  params.token_user_data = &stream;
  CHECK_STATUS(ophtha_report_generate(session, (const ophtha_image *const *)images, 6, &params, &report),
               OPHTHA_STATUS_OK, NULL);
  CHECK(report != NULL);
  CHECK(strcmp(ophtha_report_text(report), stream.text) == 0);
  CHECK(strstr(ophtha_report_json(report), "\"disclaimer\"") != NULL);
  CHECK(strstr(ophtha_report_json(report), "\"language\":\"zh\"") != NULL);
  CHECK(strstr(ophtha_report_json(report), "\"image_checks\":[]") != NULL);
  /* Its facts: a full ophtha_report_info, and an older prefix that gets only its own fields. */
  info.struct_size = sizeof info;
  CHECK_STATUS(ophtha_report_get_info(report, &info), OPHTHA_STATUS_OK, NULL);
  CHECK(info.n_generated_tokens > 0 && info.n_generated_tokens <= 16 && info.n_prompt_tokens > info.n_generated_tokens);
  CHECK(info.embed_seconds > 0 && info.prefill_seconds > 0 && info.decode_seconds > 0);
  memset(&older, 0x5a, sizeof older);
  older.struct_size = (uint32_t)(offsetof(ophtha_report_info, n_generated_tokens) + sizeof older.n_generated_tokens);
  CHECK_STATUS(ophtha_report_get_info(report, &older), OPHTHA_STATUS_OK, NULL);
  CHECK(older.n_generated_tokens == info.n_generated_tokens && older.embed_seconds != info.embed_seconds);
  older.struct_size = 3;
  CHECK_STATUS(ophtha_report_get_info(report, &older), OPHTHA_STATUS_INVALID_ARGUMENT, "struct_size is 3");
  CHECK_STATUS(ophtha_report_get_info(NULL, &info), OPHTHA_STATUS_INVALID_ARGUMENT, "report is NULL");
  CHECK_STATUS(ophtha_report_get_info(report, NULL), OPHTHA_STATUS_INVALID_ARGUMENT, "out_info is NULL");
  {
    /* A report written once has one draft: its text. */
    const char *draft = NULL;
    CHECK_STATUS(ophtha_report_get_draft(report, 0, &draft), OPHTHA_STATUS_OK, NULL);
    CHECK(draft != NULL && strcmp(draft, ophtha_report_text(report)) == 0);
    snprintf(greedy, sizeof greedy, "%s", ophtha_report_text(report));
    CHECK_STATUS(ophtha_report_get_draft(report, 1, &draft), OPHTHA_STATUS_INVALID_ARGUMENT,
                 "index is 1, expected 0 to 0 (the report has 1 draft)");
  }
  ophtha_report_free(report);
  report = NULL;
  CHECK(strcmp(ophtha_report_text(NULL), "") == 0 && strcmp(ophtha_report_json(NULL), "") == 0);
  ophtha_report_free(NULL);

  /* Four drafts: the chosen one streams whole, once chosen; the info says how many and which. */
  memset(&stream, 0, sizeof stream);
  CHECK(params.candidates == 0 && params.candidate_temperature == 0.0f && params.evidence_weight == 0.0f); /* the bundle's */
  params.candidates = 4;
  params.candidate_temperature = 1.2f;
  CHECK_STATUS(ophtha_report_generate(session, (const ophtha_image *const *)images, 6, &params, &report),
               OPHTHA_STATUS_OK, NULL);
  CHECK(stream.calls == 1 && strcmp(ophtha_report_text(report), stream.text) == 0);
  info.struct_size = sizeof info;
  CHECK_STATUS(ophtha_report_get_info(report, &info), OPHTHA_STATUS_OK, NULL);
  CHECK(info.n_candidates == 4 && info.chosen_candidate >= 0 && info.chosen_candidate < 4);
  CHECK(params.line_drafts == 0 && info.n_refined_lines == 0); /* the random bundle refines no lines */
  CHECK(params.sentence_insertions == 0 && info.n_inserted_sentences == 0 && info.n_dropped_sentences == 0);
  CHECK(params.guided_drafts == 0 && info.n_guided_sentences == 0);
  CHECK(params.drop_unsupported == 0); /* the bundle's (the random bundle keeps them) */
  {
    /* Every draft can be read, in order (the first is greedy: the report written once above); the
     * chosen one is the report text. */
    const char *draft = NULL;
    for (int32_t i = 0; i < 4; ++i) {
      draft = NULL;
      CHECK_STATUS(ophtha_report_get_draft(report, i, &draft), OPHTHA_STATUS_OK, NULL);
      CHECK(draft != NULL);
      if (i == 0) {
        CHECK(strcmp(draft, greedy) == 0);
      }
      if (i == info.chosen_candidate) {
        CHECK(strcmp(draft, ophtha_report_text(report)) == 0);
      }
    }
    CHECK_STATUS(ophtha_report_get_draft(report, 4, &draft), OPHTHA_STATUS_INVALID_ARGUMENT, "index is 4, expected 0 to 3");
    CHECK_STATUS(ophtha_report_get_draft(report, -1, &draft), OPHTHA_STATUS_INVALID_ARGUMENT, "index is -1");
    CHECK_STATUS(ophtha_report_get_draft(report, 0, NULL), OPHTHA_STATUS_INVALID_ARGUMENT, "out_text is NULL");
    CHECK_STATUS(ophtha_report_get_draft(NULL, 0, &draft), OPHTHA_STATUS_INVALID_ARGUMENT, "report is NULL");
  }
  ophtha_report_free(report);
  report = NULL;
  /* The heads' evidence weighed in (and none: < 0): still one of the four drafts. */
  params.evidence_weight = 2.0f;
  CHECK_STATUS(ophtha_report_generate(session, (const ophtha_image *const *)images, 6, &params, &report),
               OPHTHA_STATUS_OK, NULL);
  CHECK_STATUS(ophtha_report_get_info(report, &info), OPHTHA_STATUS_OK, NULL);
  CHECK(info.n_candidates == 4 && info.chosen_candidate >= 0 && info.chosen_candidate < 4);
  ophtha_report_free(report);
  report = NULL;
  params.evidence_weight = -1.0f;
  CHECK_STATUS(ophtha_report_generate(session, (const ophtha_image *const *)images, 6, &params, &report),
               OPHTHA_STATUS_OK, NULL);
  ophtha_report_free(report);
  report = NULL;
  /* Findings the heads read absent dropped, with no drafts weighed (the evidence gathered for it alone)
   * and kept: the random bundle's drafts state none, so the text is the same either way. */
  {
    ophtha_report *kept = NULL;
    params.drop_unsupported = -1;
    CHECK_STATUS(ophtha_report_generate(session, (const ophtha_image *const *)images, 6, &params, &kept),
                 OPHTHA_STATUS_OK, NULL);
    params.drop_unsupported = 1;
    CHECK_STATUS(ophtha_report_generate(session, (const ophtha_image *const *)images, 6, &params, &report),
                 OPHTHA_STATUS_OK, NULL);
    if (kept && report) CHECK(strcmp(ophtha_report_text(kept), ophtha_report_text(report)) == 0);
    ophtha_report_free(kept);
    ophtha_report_free(report);
    report = NULL;
    params.drop_unsupported = 0;
  }
  params.evidence_weight = 101.0f;
  CHECK_STATUS(ophtha_report_generate(session, (const ophtha_image *const *)images, 6, &params, &untouched),
               OPHTHA_STATUS_INVALID_ARGUMENT, "evidence_weight is 101, expected at most 100");
  params.evidence_weight = NAN;
  CHECK_STATUS(ophtha_report_generate(session, (const ophtha_image *const *)images, 6, &params, &untouched),
               OPHTHA_STATUS_INVALID_ARGUMENT, "evidence_weight is nan");
  params.evidence_weight = 0.0f;
  /* Line refinement: 3 alternatives per line of the chosen draft; 129 refused. */
  params.line_drafts = 3;
  CHECK_STATUS(ophtha_report_generate(session, (const ophtha_image *const *)images, 6, &params, &report),
               OPHTHA_STATUS_OK, NULL);
  CHECK_STATUS(ophtha_report_get_info(report, &info), OPHTHA_STATUS_OK, NULL);
  CHECK(info.n_candidates == 4 && info.n_refined_lines >= 0);
  {
    /* A report no line of which was replaced is its chosen draft as written. */
    const char *chosen = NULL;
    CHECK_STATUS(ophtha_report_get_draft(report, info.chosen_candidate, &chosen), OPHTHA_STATUS_OK, NULL);
    CHECK((strcmp(chosen, ophtha_report_text(report)) == 0) == (info.n_refined_lines == 0));
  }
  ophtha_report_free(report);
  report = NULL;
  params.line_drafts = 129;
  CHECK_STATUS(ophtha_report_generate(session, (const ophtha_image *const *)images, 6, &params, &untouched),
               OPHTHA_STATUS_INVALID_ARGUMENT, "line_drafts is 129, expected at most 128");
  params.line_drafts = 0;
  params.sentence_insertions = 17;
  CHECK_STATUS(ophtha_report_generate(session, (const ophtha_image *const *)images, 6, &params, &untouched),
               OPHTHA_STATUS_INVALID_ARGUMENT, "sentence_insertions is 17, expected at most 16");
  params.sentence_insertions = 0;
  params.guided_drafts = 17;
  CHECK_STATUS(ophtha_report_generate(session, (const ophtha_image *const *)images, 6, &params, &untouched),
               OPHTHA_STATUS_INVALID_ARGUMENT, "guided_drafts is 17, expected at most 16");
  params.guided_drafts = 0;
  params.candidates = 129;
  CHECK_STATUS(ophtha_report_generate(session, (const ophtha_image *const *)images, 6, &params, &untouched),
               OPHTHA_STATUS_INVALID_ARGUMENT, "candidates is 129");
  params.candidates = 0;
  params.candidate_temperature = 0.0f;

  /* With image checks, one entry per image; a stop from the callback ends the report early. */
  memset(&stream, 0, sizeof stream);
  stream.stop_after = 2;
  params.check_images = 1;
  CHECK_STATUS(ophtha_report_generate(session, (const ophtha_image *const *)images, 6, &params, &report),
               OPHTHA_STATUS_OK, NULL);
  CHECK(stream.calls == 2);
  CHECK(strstr(ophtha_report_json(report), "\"looks_like\"") != NULL);
  ophtha_report_free(report);
  report = NULL;

  /* The text-only route; then misuse: out_report stays untouched. */
  params.token_callback = NULL;
  CHECK_STATUS(ophtha_report_generate(session, NULL, 0, &params, &report), OPHTHA_STATUS_OK, NULL);
  ophtha_report_free(report);
  params.findings = NULL;
  CHECK_STATUS(ophtha_report_generate(session, NULL, 0, &params, &untouched), OPHTHA_STATUS_INVALID_ARGUMENT,
               "no images and no findings");
  CHECK(untouched == (ophtha_report *)&failures);
  params.findings = "x";
  params.lang = "fr";
  CHECK_STATUS(ophtha_report_generate(session, NULL, 0, &params, &untouched), OPHTHA_STATUS_INVALID_ARGUMENT,
               "not in 'fr'");
  params.lang = "en";
  CHECK_STATUS(ophtha_report_generate(session, NULL, 2, &params, &untouched), OPHTHA_STATUS_INVALID_ARGUMENT,
               "images (with n_images > 0) is NULL");
  {
    const ophtha_image *with_null[2];
    with_null[0] = images[0];
    with_null[1] = NULL;
    CHECK_STATUS(ophtha_report_generate(session, with_null, 2, &params, &untouched), OPHTHA_STATUS_INVALID_ARGUMENT,
                 "images[1] is NULL");
  }
  CHECK_STATUS(ophtha_report_generate(NULL, NULL, 0, &params, &untouched), OPHTHA_STATUS_INVALID_ARGUMENT,
               "session is NULL");
  CHECK_STATUS(ophtha_report_generate(plain_session, NULL, 0, &params, &untouched), OPHTHA_STATUS_UNSUPPORTED,
               "not a model bundle");
  params.abort_callback = always_abort;
  CHECK_STATUS(ophtha_report_generate(session, (const ophtha_image *const *)images, 1, &params, &untouched),
               OPHTHA_STATUS_ABORTED, NULL);
  params.abort_callback = NULL;
  params.modality_threshold = 2.0f;
  CHECK_STATUS(ophtha_report_generate(session, NULL, 0, &params, &untouched), OPHTHA_STATUS_INVALID_ARGUMENT,
               "modality_threshold");
  CHECK(untouched == (ophtha_report *)&failures);

  /* Image embeddings: ask for the size, then fill; a plain model has none. */
  CHECK_STATUS(ophtha_image_embed(bundle, images[1], NULL, 0, &n_tokens, &dim), OPHTHA_STATUS_BUFFER_TOO_SMALL,
               "floats");
  CHECK(n_tokens > 0 && dim > 0);
  embedding = (float *)calloc(n_tokens * dim, sizeof(float));
  CHECK_STATUS(ophtha_image_embed(bundle, images[1], embedding, n_tokens * dim, &n_tokens, &dim), OPHTHA_STATUS_OK,
               NULL);
  {
    double sum = 0;
    for (i = 0; i < n_tokens * dim; ++i) sum += embedding[i] * embedding[i];
    CHECK(sum > 0);
  }
  free(embedding);
  CHECK_STATUS(ophtha_image_embed(plain, images[1], NULL, 0, &n_tokens, &dim), OPHTHA_STATUS_UNSUPPORTED,
               "not a model bundle");
  CHECK_STATUS(ophtha_image_embed(bundle, NULL, NULL, 0, &n_tokens, &dim), OPHTHA_STATUS_INVALID_ARGUMENT,
               "image is NULL");

  for (i = 0; i < 6; ++i) ophtha_image_free(images[i]);
  ophtha_session_free(session);
  ophtha_session_free(plain_session);
  ophtha_model_free(bundle);
  ophtha_model_free(plain);
  if (failures) fprintf(stderr, "%d check(s) failed\n", failures);
  else printf("test_c_report: all checks passed\n");
  return failures ? 1 : 0;
}
