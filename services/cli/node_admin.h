// `tessera node`: one storage node's state and its drain (docs/design/repair.md "Drain").
//
//   tessera node status  ADDRESS AUTH [--json]
//   tessera node drain   ADDRESS AUTH [--wait [--timeout=DURATION]]
//   tessera node undrain ADDRESS AUTH
//   tessera node remove  ADDRESS AUTH
//   AUTH = --cluster_secret_file=FILE | --insecure_no_auth
//
// The commands talk to the node's gRPC port (SliceService NodeInfo / SetDraining) with the
// cluster's authentication, as the gateways do. A drain is asynchronous: the nodes' repair
// schedulers copy the drained node's slices elsewhere and metadata layouts hand its partitions
// off; `--wait` polls until the node holds no slice. `remove` announces that a drained, empty node
// has left the cluster for good (refused while a slice is left).
//
// Thread-safety: single-threaded (a command line).
#pragma once

#include <string>
#include <vector>

namespace tessera::cli {

// Help text for `tessera help`.
extern const char kNodeUsage[];

// Runs `args` = {"node", ...}. Returns the exit code (commands.h): 0 done, 1 the node refused or
// could not be reached (one line on stderr), 2 bad command line.
int RunNodeCommand(const std::vector<std::string>& args);

}  // namespace tessera::cli
