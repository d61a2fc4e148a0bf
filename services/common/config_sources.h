// Configuration of Tessera's binaries: every setting is an absl flag, and it can be given in three
// places, applied lowest precedence first (docs/configuration.md is the reference):
//
//   1. a config file: `--config=FILE` on the command line, else the TESSERA_CONFIG environment
//      variable. Lines are `name = value` (name = the flag name without "--"); blank lines and
//      lines starting with '#' are ignored; whitespace around names and values is trimmed; a value
//      may be wrapped in double quotes. An unknown name, a name given twice, a line without '='
//      or a file that cannot be read is an error naming FILE:LINE;
//   2. environment variables TESSERA_<NAME> (TESSERA_DATA_DIR for --data_dir); an empty one counts
//      as unset;
//   3. the command line: `--name=value`, `--name value`, `--name` / `--noname` for booleans; `--`
//      ends the flags.
//
// Only Tessera's own flags (defined in files under services/, base/, p2p/ or storage/) can be set
// this way; absl's built-in flags (--flagfile, --fromenv, ...) are unknown. `--help`,
// `--helpfull` and `-h` print HelpText(). A bad value fails with a message naming the setting and
// its source (FILE:LINE, the environment variable, or "command line"); the value is never shown
// for settings whose name suggests a secret (IsSecretSetting).
//
// This module also defines the flags every binary shares: --config, --log_level
// (debug|info|warning|error) and --log_format (text|json), see base/logging.h; ParseFlagsOrExit
// applies the last two.
//
// Thread-safety: call once, from main(), before any thread reads flags. The pure helpers are
// thread-safe.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tessera::services {

// How ApplyConfigSources reaches the process environment and the file system (injectable for
// tests). Both must be set.
struct ConfigEnvironment {
  // The value of an environment variable, or nullopt if it is not set.
  std::function<std::optional<std::string>(const std::string& name)> getenv;
  // The contents of a file.
  std::function<absl::StatusOr<std::string>(const std::string& path)> read_file;

  // The real environment (std::getenv) and file system (Env::Default()).
  static ConfigEnvironment Process();
};

struct ParsedArgs {
  // Arguments that are not flags (and everything after `--`), in order.
  std::vector<std::string> positional;
  // --help, --helpfull or -h was given: nothing was applied; print HelpText() and stop.
  bool help = false;
};

// Applies the config file, then the environment, then `args` (argv without argv[0]) to the
// Tessera flags. Stops at the first error: INVALID_ARGUMENT naming the setting and its source
// (earlier settings stay applied). A config file that cannot be read: the read error's code,
// message naming --config (or TESSERA_CONFIG) and the path.
[[nodiscard]] absl::StatusOr<ParsedArgs> ApplyConfigSources(const std::vector<std::string>& args,
                                                            const ConfigEnvironment& env);

// True for flags defined in Tessera's own sources (services/, base/, p2p/, storage/).
bool IsTesseraFlag(const absl::CommandLineFlag& flag);

// "TESSERA_" + the name in upper case: the environment variable of setting `flag_name`.
std::string EnvVarName(absl::string_view flag_name);

// True if the setting's value must never be shown: its name contains "secret", "key",
// "password", "token" or "credential" (case-insensitive).
bool IsSecretSetting(absl::string_view flag_name);

// The --help text: `usage` (absl::ProgramUsageMessage() if empty), then every Tessera flag grouped
// by the file defining it, each as
//     --name (help); default: "value"; env: TESSERA_NAME;
std::string HelpText(absl::string_view usage = "");

// Applies --log_level and --log_format to base/logging (SetLogLevel, SetLogFormat) and routes
// gRPC's own log lines through it (grpc_log_bridge.h).
void ApplyLogFlags();

// For main(): ApplyConfigSources over the real environment, then ApplyLogFlags(). On --help prints
// HelpText() to stdout and exits 0. On an error, or on a positional argument unless
// `allow_positional`, prints one line "<program>: <message>" to stderr and exits 2. Returns the
// positional arguments.
std::vector<std::string> ParseFlagsOrExit(int argc, char** argv, absl::string_view program,
                                          bool allow_positional = false);

}  // namespace tessera::services
