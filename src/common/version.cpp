#include "ophtha/export.h"
#include "ophtha/version.hpp"

extern "C" OPHTHA_API const char* ophtha_version_string(void) { return OPHTHA_VERSION_STRING; }
