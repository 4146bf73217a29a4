#include "cli/commands.hpp"
#include "ophtha/error.hpp"

namespace ophtha::cli {

int run_bench(const Args&) { fail(ErrorCode::Unsupported, "'bench' is not built yet"); }

}  // namespace ophtha::cli
