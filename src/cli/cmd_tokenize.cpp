#include "cli/commands.hpp"
#include "ophtha/error.hpp"

namespace ophtha::cli {

int run_tokenize(const Args&) { fail(ErrorCode::Unsupported, "'tokenize' is not built yet"); }

}  // namespace ophtha::cli
