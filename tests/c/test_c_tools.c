/* The tool calls of the C ABI from C99 (-Wall -Wextra -Werror -pedantic), linked to libophtha.so:
 * ophtha_synth writes a manifest of the studies asked for, ophtha_evaluate scores predictions
 * against it and returns the results JSON, ophtha_train_run runs a tiny language-stage
 * configuration and stops when its step callback asks; misuse (NULL, a wrong struct_size, bad
 * paths and values) gets its documented status and leaves out-parameters untouched.
 *
 *   test_c_tools PLAIN_MODEL.gguf WORK_DIR */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ophtha/ophtha.h"

static char work[1024];

static const char *in_work(char *path, size_t size, const char *name) {
  snprintf(path, size, "%s/%s", work, name);
  return path;
}

static int write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  if (!f) return 0;
  fputs(text, f);
  return fclose(f) == 0;
}

static long count_lines(const char *path) {
  FILE *f = fopen(path, "rb");
  long lines = 0;
  int c;
  if (!f) return -1;
  while ((c = fgetc(f)) != EOF) lines += c == '\n';
  fclose(f);
  return lines;
}

static int file_exists(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f) fclose(f);
  return f != NULL;
}

typedef struct {
  int calls;
  float last;
} Progress;

static int32_t count_progress(float fraction, void *user_data) {
  Progress *p = (Progress *)user_data;
  ++p->calls;
  p->last = fraction;
  return 0;
}

static int32_t cancel_progress(float fraction, void *user_data) {
  (void)fraction;
  (void)user_data;
  return 1;
}

static void test_synth(void) {
  ophtha_synth_params p;
  Progress progress = {0, 0.0f};
  char out[1200], manifest[2048];

  CHECK_STATUS(ophtha_synth_params_default(&p, sizeof p), OPHTHA_STATUS_OK, NULL);
  CHECK(p.struct_size == sizeof p && p.out_dir == NULL && p.studies == 100 && p.threads == 2 && p.force == 0);
  CHECK(p.split_train == 0.8 && p.split_val == 0.1 && p.split_test == 0.1);

  p.out_dir = in_work(out, sizeof out, "c-tools-synth");
  p.studies = 4;
  p.seed = 5;
  p.lang = "en";
  p.threads = 2;
  p.force = 1; /* the folder of an earlier run is overwritten */
  p.progress_callback = count_progress;
  p.progress_user_data = &progress;
  CHECK_STATUS(ophtha_synth(&p), OPHTHA_STATUS_OK, NULL);
  snprintf(manifest, sizeof manifest, "%s/manifest.jsonl", out);
  CHECK(count_lines(manifest) == 4);
  CHECK(progress.calls >= 1 && progress.last == 1.0f);

  /* Misuse: each with the field it names. */
  CHECK_STATUS(ophtha_synth(NULL), OPHTHA_STATUS_INVALID_ARGUMENT, "params is NULL");
  p.force = 0;
  CHECK_STATUS(ophtha_synth(&p), OPHTHA_STATUS_INVALID_ARGUMENT, "c-tools-synth");
  p.force = 1;
  p.studies = 0;
  CHECK_STATUS(ophtha_synth(&p), OPHTHA_STATUS_INVALID_ARGUMENT, "params->studies is 0");
  p.studies = 4;
  p.lang = "fr";
  CHECK_STATUS(ophtha_synth(&p), OPHTHA_STATUS_INVALID_ARGUMENT, "params->lang is 'fr'");
  p.lang = NULL;
  p.threads = 0;
  CHECK_STATUS(ophtha_synth(&p), OPHTHA_STATUS_INVALID_ARGUMENT, "params->threads is 0");
  p.threads = 1;
  p.split_test = 0.5; /* the fractions no longer sum to 1 */
  CHECK_STATUS(ophtha_synth(&p), OPHTHA_STATUS_INVALID_ARGUMENT, "split");
  p.split_test = 0.1;
  p.out_dir = NULL;
  CHECK_STATUS(ophtha_synth(&p), OPHTHA_STATUS_INVALID_ARGUMENT, "params->out_dir is NULL");
  p.out_dir = "/proc/no-such-folder/synth";
  CHECK_STATUS(ophtha_synth(&p), OPHTHA_STATUS_IO, "/proc/no-such-folder/synth");
  p.out_dir = in_work(out, sizeof out, "c-tools-synth-cancelled");
  p.studies = 200;
  p.progress_callback = cancel_progress;
  CHECK_STATUS(ophtha_synth(&p), OPHTHA_STATUS_ABORTED, NULL);
  snprintf(manifest, sizeof manifest, "%s/manifest.jsonl", out);
  CHECK(!file_exists(manifest));
  p.struct_size = 3;
  CHECK_STATUS(ophtha_synth(&p), OPHTHA_STATUS_INVALID_ARGUMENT, "struct_size is 3");
  CHECK_STATUS(ophtha_synth_params_default(NULL, sizeof p), OPHTHA_STATUS_INVALID_ARGUMENT, "params is NULL");
  CHECK_STATUS(ophtha_synth_params_default(&p, 2), OPHTHA_STATUS_INVALID_ARGUMENT, "struct_size is 2");
}

static void test_evaluate(void) {
  char manifest[1200], predictions[1200], out[1200], metrics[2048];
  char *result = NULL, *untouched = (char *)&failures, *kept = untouched;
  ophtha_evaluate_params p;

  in_work(manifest, sizeof manifest, "c-tools-synth/manifest.jsonl");
  in_work(predictions, sizeof predictions, "c-tools-predictions.jsonl");
  in_work(out, sizeof out, "c-tools-eval");
  CHECK(write_file(predictions,
                   "{\"id\": \"syn-000001\", \"lang\": \"en\", \"report\": \"Right eye: normal fundus.\"}\n"
                   "not json\n"));
  CHECK_STATUS(ophtha_evaluate_params_default(&p, sizeof p), OPHTHA_STATUS_OK, NULL);
  CHECK(p.lang == NULL && p.split == NULL);
  p.split = "all";
  CHECK_STATUS(ophtha_evaluate(manifest, predictions, out, &p, &result), OPHTHA_STATUS_OK, NULL);
  CHECK(result && strstr(result, "\"studies_in_split\":4") && strstr(result, "\"malformed_lines\":1"));
  snprintf(metrics, sizeof metrics, "%s/metrics.json", out);
  CHECK(file_exists(metrics));
  ophtha_string_free(result);
  ophtha_string_free(NULL);
  /* Without an out folder or a result pointer: scored, nothing returned. */
  CHECK_STATUS(ophtha_evaluate(manifest, predictions, NULL, NULL, NULL), OPHTHA_STATUS_OK, NULL);

  CHECK_STATUS(ophtha_evaluate(NULL, predictions, NULL, NULL, &kept), OPHTHA_STATUS_INVALID_ARGUMENT,
               "manifest_path is NULL");
  CHECK_STATUS(ophtha_evaluate(manifest, NULL, NULL, NULL, &kept), OPHTHA_STATUS_INVALID_ARGUMENT,
               "predictions_path is NULL");
  CHECK_STATUS(ophtha_evaluate("/no/such/manifest.jsonl", predictions, NULL, NULL, &kept), OPHTHA_STATUS_IO,
               "/no/such/manifest.jsonl");
  CHECK_STATUS(ophtha_evaluate(manifest, "/no/such/predictions.jsonl", NULL, NULL, &kept), OPHTHA_STATUS_IO,
               "/no/such/predictions.jsonl");
  p.lang = "fr";
  CHECK_STATUS(ophtha_evaluate(manifest, predictions, NULL, &p, &kept), OPHTHA_STATUS_INVALID_ARGUMENT,
               "params->lang is 'fr'");
  p.lang = NULL;
  p.split = "everything";
  CHECK_STATUS(ophtha_evaluate(manifest, predictions, NULL, &p, &kept), OPHTHA_STATUS_INVALID_ARGUMENT,
               "everything");
  p.struct_size = 5;
  CHECK_STATUS(ophtha_evaluate(manifest, predictions, NULL, &p, &kept), OPHTHA_STATUS_INVALID_ARGUMENT,
               "struct_size is 5");
  CHECK(kept == untouched);
}

typedef struct {
  int steps;
  int stop_at;
  int stage_ok;
} Steps;

static int32_t on_step(const ophtha_train_step *step, void *user_data) {
  Steps *s = (Steps *)user_data;
  ++s->steps;
  s->stage_ok += step->struct_size == sizeof *step && strcmp(step->stage, "language") == 0 &&
                 step->step == s->steps && step->total_steps == 6 && step->loss > 0;
  return s->steps >= s->stop_at;
}

static void test_train(const char *model) {
  char folder[2048], config[2048], data[2048], text[8192];
  char *result = NULL, *untouched = (char *)&failures, *kept = untouched;
  ophtha_train_params p;
  Steps steps = {0, 2, 0};
  int i;
  size_t used = 0;

  in_work(folder, sizeof folder, "c-tools-train");
  in_work(data, sizeof data, "c-tools-train-reports.jsonl");
  in_work(config, sizeof config, "c-tools-train.json");
  for (i = 0; i < 8; ++i)
    used += (size_t)snprintf(text + used, sizeof text - used,
                             "{\"prompt\": \"Findings %d:\", \"response\": \"The fundus shows finding %d.\"}\n", i % 4,
                             i % 3);
  CHECK(write_file(data, text));
  snprintf(text, sizeof text,
           "{\"model\": {\"from\": \"%s\"}, \"data\": {\"train\": \"%s\"}, \"method\": \"lora\", "
           "\"lora\": {\"rank\": 2, \"alpha\": 4, \"targets\": [\"q\", \"v\"]}, \"optimizer\": {\"lr\": 0.005}, "
           "\"steps\": 6, \"batch_size\": 2, \"seed\": 3, \"threads\": 1, "
           "\"checkpoint\": {\"dir\": \"%s/ckpt\", \"every\": 1}, \"output\": {\"gguf\": \"%s/tuned.gguf\"}}",
           model, data, folder, folder);
  CHECK(write_file(config, text));

  CHECK_STATUS(ophtha_train_params_default(&p, sizeof p), OPHTHA_STATUS_OK, NULL);
  CHECK(p.resume == 0 && p.max_steps == -1 && p.step_callback == NULL);
  p.step_callback = on_step;
  p.step_user_data = &steps;
  CHECK_STATUS(ophtha_train_run(config, &p, &result), OPHTHA_STATUS_OK, NULL);
  CHECK(steps.steps == 2 && steps.stage_ok == 2);
  CHECK(result && strstr(result, "\"complete\":false") && strstr(result, "\"step\":2"));
  ophtha_string_free(result);
  result = NULL;

  /* Resumed with a step limit, then to the end: the outputs are written once complete. */
  p.resume = 1;
  p.max_steps = 1;
  p.step_callback = NULL;
  CHECK_STATUS(ophtha_train_run(config, &p, &result), OPHTHA_STATUS_OK, NULL);
  CHECK(result && strstr(result, "\"step\":3") && strstr(result, "\"complete\":false"));
  ophtha_string_free(result);
  result = NULL;
  p.max_steps = -1;
  CHECK_STATUS(ophtha_train_run(config, &p, &result), OPHTHA_STATUS_OK, NULL);
  CHECK(result && strstr(result, "\"step\":6") && strstr(result, "\"complete\":true") && strstr(result, "tuned.gguf"));
  ophtha_string_free(result);

  CHECK_STATUS(ophtha_train_run(NULL, NULL, &kept), OPHTHA_STATUS_INVALID_ARGUMENT, "config_path is NULL");
  CHECK_STATUS(ophtha_train_run("/no/such/run.json", NULL, &kept), OPHTHA_STATUS_IO, "/no/such/run.json");
  p.struct_size = 7;
  CHECK_STATUS(ophtha_train_run(config, &p, &kept), OPHTHA_STATUS_INVALID_ARGUMENT, "struct_size is 7");
  CHECK_STATUS(ophtha_train_params_default(NULL, sizeof p), OPHTHA_STATUS_INVALID_ARGUMENT, "params is NULL");
  CHECK(kept == untouched);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: test_c_tools PLAIN_MODEL.gguf WORK_DIR\n");
    return 2;
  }
  snprintf(work, sizeof work, "%s", argv[2]);
  test_synth();
  test_evaluate();
  test_train(argv[1]);
  if (failures) fprintf(stderr, "test_c_tools: %d check(s) failed\n", failures);
  else printf("test_c_tools: all checks passed\n");
  return failures ? 1 : 0;
}
