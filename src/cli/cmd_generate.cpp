#include "cli/commands.hpp"
#include "ophtha/error.hpp"

namespace ophtha::cli {

int run_generate(const Args&) { fail(ErrorCode::Unsupported, "'generate' is not built yet"); }

}  // namespace ophtha::cli
