/* The smallest out-of-tree consumer of an installed Ophtha: strict C99, only ophtha/ophtha.h.
 * Prints the library's version and fails when the library's ABI or version is not the header's;
 * given a model path, also loads it and prints its vocabulary size.
 *
 *   ophtha_version_check [MODEL] */
#include <stdio.h>

#include "ophtha/ophtha.h"

int main(int argc, char **argv) {
  ophtha_model *model = NULL;
  ophtha_status status;
  printf("libophtha %s (ABI %u)\n", ophtha_version(), (unsigned)ophtha_abi_version());
  if (ophtha_abi_version() != OPHTHA_ABI_VERSION || ophtha_version_number() != OPHTHA_VERSION_NUMBER) {
    fprintf(stderr, "header %s / ABI %d does not match the library %s / ABI %u\n", OPHTHA_VERSION_STRING,
            OPHTHA_ABI_VERSION, ophtha_version(), (unsigned)ophtha_abi_version());
    return 1;
  }
  if (argc < 2) return 0;
  status = ophtha_model_load(argv[1], NULL, &model);
  if (status != OPHTHA_STATUS_OK) {
    fprintf(stderr, "ophtha_model_load failed: %s: %s\n", ophtha_status_string(status), ophtha_last_error_message());
    return 1;
  }
  printf("%s: %d tokens, context %d\n", argv[1], (int)ophtha_model_n_vocab(model), (int)ophtha_model_context_length(model));
  ophtha_model_free(model);
  return 0;
}
