// The `tessera` CLI's operator commands, which work on local key files and on the cluster's
// metadata directly (as a gateway does), not through a gateway endpoint:
//
//   tessera keys add FILE                  add a fresh key to a master key file and make it active
//   tessera keys retire FILE KEY_ID        remove a (non-active) key from a master key file
//   tessera admin rotate-master-key --seeds=HOST:PORT,... --master_key_file=FILE
//       [--cluster_secret_file=FILE | --insecure_no_auth] [--k=4 --m=2] [--dry_run]
//                                          rewrap every data key under the file's active key
//   tessera admin backup-meta --meta_dir=DIR --to=DIR      offline backup of a node's metadata
//   tessera admin restore-meta --from=DIR --meta_dir=DIR   offline restore of it
//
// Master-key rotation step by step: docs/design/crypto.md "Rotation".
#pragma once

#include <string>
#include <vector>

namespace tessera::cli {

// The usage lines of these commands (part of `tessera help`).
extern const char kAdminUsage[];

// Runs `args` = {"keys", ...}. Returns the exit code (commands.h).
int RunKeysCommand(const std::vector<std::string>& args);

// Runs `args` = {"admin", ...}. Returns the exit code; rotate-master-key exits 1 when any entry
// is still wrapped under another key than the active one (failed, or remaining in a dry run).
int RunAdminCommand(const std::vector<std::string>& args);

}  // namespace tessera::cli
