// The `tessera` CLI's object and cluster commands (everything but `dev`), over the C++ SDK.
#pragma once

#include <string>
#include <vector>

namespace tessera::cli {

// Exit codes.
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;  // the operation failed (one line on stderr)
inline constexpr int kExitUsage = 2;  // bad command line

// Where the CLI finds the gateway: `flag` if non-empty, else $TESSERA_ENDPOINT, else the
// TESSERA_ENDPOINT= line of ~/.tessera/dev.env (written by `tessera dev`), else 127.0.0.1:7500.
std::string ResolveEndpoint(const std::string& flag);

// The dev cluster's endpoint file: $HOME/.tessera/dev.env (empty if HOME is not set).
std::string DevEnvPath();

// Runs one command (`args` = {"mb", "b"}, {"put", "f", "b/k"}, ...). Returns the exit code.
int RunCommand(const std::string& endpoint, const std::vector<std::string>& args);

// Prints one error line "tessera: <message>" to stderr.
void PrintError(const std::string& message);

}  // namespace tessera::cli
