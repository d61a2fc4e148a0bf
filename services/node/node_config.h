// Parsing of tessera-node's configuration file: `key = value` lines whose keys are the
// command-line flag names (without "--"). Blank lines and lines starting with '#' are ignored;
// whitespace around keys and values is trimmed; a value may be wrapped in double quotes.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tessera::services {

// The (key, value) pairs in file order. INVALID_ARGUMENT naming the line for a line without
// '=', an empty key, or a key given twice.
[[nodiscard]] absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseConfigText(
    absl::string_view text);

}  // namespace tessera::services
