#include "ophtha/ophtha.h"

extern "C" {

const char* ophtha_version(void) { return OPHTHA_VERSION_STRING; }

uint32_t ophtha_version_number(void) { return OPHTHA_VERSION_NUMBER; }

uint32_t ophtha_abi_version(void) { return OPHTHA_ABI_VERSION; }

}  // extern "C"
