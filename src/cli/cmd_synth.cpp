// ophtha synth — being built this session (placeholder so the command table links).
#include "cli/commands.hpp"
#include "ophtha/error.hpp"

namespace ophtha::cli {

int run_synth(const Args&) { fail(ErrorCode::Unsupported, "'ophtha synth' is not built yet"); }

}  // namespace ophtha::cli
