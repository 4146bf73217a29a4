// ophtha train — being built this session (placeholder so the command table links).
#include "cli/commands.hpp"
#include "ophtha/error.hpp"

namespace ophtha::cli {

int run_train(const Args&) { fail(ErrorCode::Unsupported, "'ophtha train' is not built yet"); }

}  // namespace ophtha::cli
