// The `tessera` CLI's object and cluster commands (everything but `dev`), over the C++ SDK.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "api/sdk/client.h"
#include "api/sdk/embedded_client.h"

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

// Reads KEY=VALUE lines (blank lines, comments and other lines are skipped; quotes are not
// interpreted). Empty map if the file cannot be read.
std::map<std::string, std::string> ReadEnvFile(const std::string& path);

// The gateway user's credentials and TLS settings, into `options` (the first source that has a
// key pair wins):
//   1. `credentials_file` (--credentials_file), a KEY=VALUE file with TESSERA_ACCESS_KEY_ID and
//      TESSERA_SECRET_ACCESS_KEY, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (as the s3.env
//      `tessera dev` writes);
//   2. $TESSERA_ACCESS_KEY_ID and $TESSERA_SECRET_ACCESS_KEY;
//   3. $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY (the same keys as S3);
//   4. the file named by the TESSERA_CREDENTIALS_FILE= line of ~/.tessera/dev.env (`tessera dev`
//      points it at its s3.env), so the CLI works against `tessera dev` with no configuration.
// None found: options are left without credentials (the gateway then says UNAUTHENTICATED).
// TLS: `tls_ca_file` (--tls_ca_file), else $TESSERA_TLS_CA_FILE: trust that PEM file; `tls`
// (--tls) or $TESSERA_TLS=1: TLS with the system's roots.
// FAILED_PRECONDITION if `credentials_file` is given but holds no key pair.
[[nodiscard]] absl::Status ResolveClientOptions(const std::string& credentials_file,
                                                const std::string& tls_ca_file, bool tls,
                                                sdk::ClientOptions* options);

// Runs one command (`args` = {"mb", "b"}, {"put", "f", "b/k"}, ...) against the gateway at
// `endpoint` with `options`. With a `client_key_file` (--client_key_file) object data is sealed
// end to end with that key (sdk::EmbeddedClient, docs/design/e2e_mode.md): `put` encrypts it
// here, `get` opens it here, and the gateway never sees the plaintext; the other commands are the
// same either way. Returns the exit code.
int RunCommand(const std::string& endpoint, const sdk::ClientOptions& options,
               const std::string& client_key_file, const std::vector<std::string>& args);

// Prints one error line "tessera: <message>" to stderr.
void PrintError(const std::string& message);

// Prints "tessera: <message> (run `tessera help` for usage)" and returns kExitUsage.
int UsageError(const std::string& message);

// Whether `arg` is "--<name>=<value>"; sets `value` if so. (Flags of the operator commands are
// never followed by a separate value.)
bool FlagEquals(const std::string& arg, const std::string& name, std::string* value);

}  // namespace tessera::cli
