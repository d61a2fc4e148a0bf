#include "services/cli/node_admin.h"

#include <cstdio>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api/node.grpc.pb.h"
#include "base/logging.h"
#include "p2p/auth/cluster_auth.h"
#include "services/cli/commands.h"

namespace tessera::cli {

const char kNodeUsage[] =
    "Storage nodes (AUTH = --cluster_secret_file=FILE | --insecure_no_auth):\n"
    "  node status ADDRESS AUTH [--json]\n"
    "                            the node's id, drain state, slices and space\n"
    "  node drain ADDRESS AUTH [--wait [--timeout=DURATION]]\n"
    "                            stop placing on the node; repair moves its slices and metadata\n"
    "                            elsewhere (survives restarts); --wait until it holds none\n"
    "  node undrain ADDRESS AUTH  take the node back into placement\n"
    "  node remove ADDRESS AUTH   the drained, empty node leaves the cluster for good\n";

namespace {

constexpr absl::Duration kCallDeadline = absl::Seconds(30);
constexpr absl::Duration kPollInterval = absl::Seconds(2);

struct NodeCommand {
  std::string verb;
  std::string address;
  std::string cluster_secret_file;
  bool insecure_no_auth = false;
  bool json = false;
  bool wait = false;
  absl::Duration timeout = absl::InfiniteDuration();
};

// One line naming what went wrong, including the node's own words.
std::string Describe(const grpc::Status& status) {
  return absl::StrCat(status.error_message(), " (", status.error_code(), ")");
}

class NodeAdmin {
 public:
  static absl::StatusOr<NodeAdmin> Connect(const NodeCommand& command) {
    std::shared_ptr<const p2p::ClusterAuth> auth;
    if (!command.insecure_no_auth) {
      absl::StatusOr<std::unique_ptr<p2p::ClusterAuth>> loaded =
          p2p::ClusterAuth::FromSecretFile(command.cluster_secret_file, "tessera-cli");
      if (!loaded.ok()) return loaded.status();
      auth = *std::move(loaded);
    }
    return NodeAdmin(v1::SliceService::NewStub(
        p2p::CreateNodeChannel(command.address, grpc::ChannelArguments(), auth)));
  }

  grpc::Status Info(v1::NodeInfoResponse* info) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
    return stub_->NodeInfo(&context, v1::NodeInfoRequest(), info);
  }

  grpc::Status SetDraining(const v1::SetDrainingRequest& request,
                           v1::SetDrainingResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
    return stub_->SetDraining(&context, request, response);
  }

 private:
  explicit NodeAdmin(std::unique_ptr<v1::SliceService::Stub> stub) : stub_(std::move(stub)) {}
  std::unique_ptr<v1::SliceService::Stub> stub_;
};

void PrintStatus(const std::string& address, const v1::NodeInfoResponse& info, bool json) {
  if (json) {
    std::printf(
        "{\"address\":%s,\"node_id\":%s,\"draining\":%s,\"slices\":%llu,\"used_bytes\":%llu,"
        "\"free_bytes\":%llu,\"capacity_bytes\":%llu,\"site\":%s,\"members_known\":%u,"
        "\"members_alive\":%u,\"version\":%s,\"repair_stripes_repaired\":%llu,"
        "\"repair_queue_stripes\":%llu,\"scrub_corrupt_found\":%llu}\n",
        LogJsonQuote(address).c_str(), LogJsonQuote(info.node_id()).c_str(),
        info.draining() ? "true" : "false", static_cast<unsigned long long>(info.slice_count()),
        static_cast<unsigned long long>(info.used_bytes()),
        static_cast<unsigned long long>(info.free_bytes()),
        static_cast<unsigned long long>(info.capacity_bytes()),
        LogJsonQuote(info.location().site()).c_str(), info.members_known(), info.members_alive(),
        LogJsonQuote(info.version()).c_str(),
        static_cast<unsigned long long>(info.repair().stripes_repaired()),
        static_cast<unsigned long long>(info.repair().queue_stripes()),
        static_cast<unsigned long long>(info.scrub().corrupt_found()));
    return;
  }
  std::printf(
      "node %s at %s: %s, %llu slices, %llu bytes used, %llu bytes free, site %s, %u of %u "
      "members alive\n",
      info.node_id().c_str(), address.c_str(), info.draining() ? "draining" : "serving",
      static_cast<unsigned long long>(info.slice_count()),
      static_cast<unsigned long long>(info.used_bytes()),
      static_cast<unsigned long long>(info.free_bytes()),
      info.location().site().empty() ? "-" : info.location().site().c_str(), info.members_alive(),
      info.members_known());
}

// Polls until the node holds no slice (or is no longer draining: someone undrained it).
int WaitDrained(NodeAdmin& admin, const NodeCommand& command) {
  const absl::Time deadline = absl::Now() + command.timeout;
  uint64_t last = UINT64_MAX;
  for (;;) {
    v1::NodeInfoResponse info;
    if (grpc::Status s = admin.Info(&info); !s.ok()) {
      PrintError(absl::StrCat("cannot reach ", command.address, ": ", Describe(s)));
      return kExitError;
    }
    if (!info.draining()) {
      PrintError(absl::StrCat("node ", info.node_id(), " is no longer draining"));
      return kExitError;
    }
    if (info.slice_count() == 0) {
      std::printf("node %s drained: no slice left (`tessera node remove` takes it out)\n",
                  info.node_id().c_str());
      return kExitOk;
    }
    if (info.slice_count() != last) {
      std::fprintf(stderr, "node %s: %llu slices left\n", info.node_id().c_str(),
                   static_cast<unsigned long long>(info.slice_count()));
      last = info.slice_count();
    }
    if (absl::Now() + kPollInterval > deadline) {
      PrintError(absl::StrCat("node ", info.node_id(), " still holds ", info.slice_count(),
                              " slices after ", absl::FormatDuration(command.timeout)));
      return kExitError;
    }
    absl::SleepFor(kPollInterval);
  }
}

int Run(const NodeCommand& command) {
  absl::StatusOr<NodeAdmin> admin = NodeAdmin::Connect(command);
  if (!admin.ok()) {
    PrintError(std::string(admin.status().message()));
    return kExitError;
  }
  if (command.verb == "status") {
    v1::NodeInfoResponse info;
    if (grpc::Status s = admin->Info(&info); !s.ok()) {
      PrintError(absl::StrCat("cannot reach ", command.address, ": ", Describe(s)));
      return kExitError;
    }
    PrintStatus(command.address, info, command.json);
    return kExitOk;
  }
  v1::SetDrainingRequest request;
  request.set_draining(command.verb == "drain");
  request.set_leave(command.verb == "remove");
  v1::SetDrainingResponse response;
  if (grpc::Status s = admin->SetDraining(request, &response); !s.ok()) {
    PrintError(absl::StrCat("node ", command.verb, " ", command.address, ": ", Describe(s)));
    return kExitError;
  }
  if (command.verb == "remove") {
    std::printf("node at %s left the cluster; stop its process now\n", command.address.c_str());
    return kExitOk;
  }
  std::printf("node at %s: %s, %llu slices on it\n", command.address.c_str(),
              response.draining() ? "draining" : "serving",
              static_cast<unsigned long long>(response.slice_count()));
  std::fflush(stdout);
  if (command.verb == "drain" && command.wait) return WaitDrained(*admin, command);
  return kExitOk;
}

}  // namespace

int RunNodeCommand(const std::vector<std::string>& args) {
  if (args.size() < 3) return UsageError("node needs a command and a node ADDRESS");
  NodeCommand command;
  command.verb = args[1];
  command.address = args[2];
  if (command.verb != "status" && command.verb != "drain" && command.verb != "undrain" &&
      command.verb != "remove") {
    return UsageError(absl::StrCat("node: unknown command \"", command.verb, "\""));
  }
  for (size_t i = 3; i < args.size(); ++i) {
    std::string v;
    if (FlagEquals(args[i], "cluster_secret_file", &v)) {
      command.cluster_secret_file = v;
    } else if (args[i] == "--insecure_no_auth") {
      command.insecure_no_auth = true;
    } else if (args[i] == "--json" && command.verb == "status") {
      command.json = true;
    } else if (args[i] == "--wait" && command.verb == "drain") {
      command.wait = true;
    } else if (FlagEquals(args[i], "timeout", &v) && command.verb == "drain" &&
               absl::ParseDuration(v, &command.timeout) && command.timeout > absl::ZeroDuration()) {
    } else {
      return UsageError(
          absl::StrCat("node ", command.verb, ": bad or unknown flag \"", args[i], "\""));
    }
  }
  if (command.cluster_secret_file.empty() == !command.insecure_no_auth) {
    return UsageError(
        "node commands need exactly one of --cluster_secret_file and --insecure_no_auth");
  }
  return Run(command);
}

}  // namespace tessera::cli
