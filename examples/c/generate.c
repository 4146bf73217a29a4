/* A vendor integration in plain C: load a model once, tokenize a prompt, stream a generation,
 * stop it with Ctrl-C, and report every failure with its status and message.
 *
 *   ophtha_example_generate MODEL.gguf "The fundus shows" [max_tokens]
 *
 * Build: part of the Ophtha build (OPHTHA_BUILD_EXAMPLES), or on its own against an installed
 * Ophtha: cc -std=c99 generate.c -lophtha */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ophtha/ophtha.h"

static volatile sig_atomic_t interrupted = 0;

static void on_sigint(int signal_number) {
  (void)signal_number;
  interrupted = 1;
}

/* Polled per token and per layer on the generating thread: Ctrl-C stops within one layer. */
static int32_t should_abort(void *user_data) {
  (void)user_data;
  return interrupted;
}

/* Called on the generating thread with whole UTF-8 characters only. */
static int32_t print_piece(const char *text, size_t length, int32_t token, void *user_data) {
  (void)token;
  (void)user_data;
  fwrite(text, 1, length, stdout);
  fflush(stdout);
  return 0; /* 0: go on */
}

static void print_log(ophtha_log_level level, const char *message, void *user_data) {
  (void)user_data;
  fprintf(stderr, "[ophtha %d] %s\n", (int)level, message);
}

static int report(const char *what, ophtha_status status) {
  fprintf(stderr, "%s failed: %s: %s\n", what, ophtha_status_string(status), ophtha_last_error_message());
  return 1;
}

int main(int argc, char **argv) {
  ophtha_model *model = NULL;
  ophtha_session *session = NULL;
  ophtha_generate_params params;
  ophtha_generation result;
  int32_t *tokens = NULL;
  size_t n_tokens = 0;
  ophtha_status status;
  int exit_code = 0;

  if (argc < 3) {
    fprintf(stderr, "usage: %s MODEL.gguf PROMPT [max_tokens]\n", argv[0]);
    return 2;
  }
  if (ophtha_abi_version() != OPHTHA_ABI_VERSION) {
    fprintf(stderr, "libophtha %s has ABI %u, this program was built for ABI %d\n", ophtha_version(),
            (unsigned)ophtha_abi_version(), OPHTHA_ABI_VERSION);
    return 1;
  }
  ophtha_log_set(print_log, NULL, OPHTHA_LOG_INFO);
  signal(SIGINT, on_sigint);

  /* The model: loaded once, shared by every session (and thread) of the program. */
  status = ophtha_model_load(argv[1], NULL, &model);
  if (status != OPHTHA_STATUS_OK) return report("ophtha_model_load", status);

  /* Tokenize: ask for the size first, then fill a buffer of that size. */
  status = ophtha_tokenize(model, argv[2], strlen(argv[2]), 1, NULL, 0, &n_tokens);
  if (status == OPHTHA_STATUS_BUFFER_TOO_SMALL) {
    tokens = (int32_t *)malloc(n_tokens * sizeof *tokens);
    status = tokens ? ophtha_tokenize(model, argv[2], strlen(argv[2]), 1, tokens, n_tokens, &n_tokens)
                    : OPHTHA_STATUS_OUT_OF_MEMORY;
  }
  if (status != OPHTHA_STATUS_OK) {
    exit_code = report("ophtha_tokenize", status);
    goto done;
  }
  fprintf(stderr, "prompt: %u tokens\n", (unsigned)n_tokens);

  /* A session per thread; this program has one. */
  status = ophtha_session_create(model, NULL, &session);
  if (status != OPHTHA_STATUS_OK) {
    exit_code = report("ophtha_session_create", status);
    goto done;
  }

  ophtha_generate_params_default(&params, sizeof params);
  params.max_tokens = argc > 3 ? atoi(argv[3]) : 64;
  params.temperature = 0.f; /* greedy: the same text every run */
  params.token_callback = print_piece;
  params.abort_callback = should_abort;
  result.struct_size = sizeof result;
  fputs(argv[2], stdout);
  status = ophtha_generate(session, argv[2], &params, &result);
  putchar('\n');
  if (status == OPHTHA_STATUS_ABORTED) {
    fprintf(stderr, "interrupted\n");
  } else if (status != OPHTHA_STATUS_OK) {
    exit_code = report("ophtha_generate", status);
  } else {
    fprintf(stderr, "%u tokens, stop reason %d, %.1f tokens/s\n", (unsigned)result.n_tokens, (int)result.stop_reason,
            result.decode_seconds > 0 ? (double)result.n_tokens / result.decode_seconds : 0.0);
  }

done:
  free(tokens);
  ophtha_session_free(session);
  ophtha_model_free(model);
  return exit_code;
}
