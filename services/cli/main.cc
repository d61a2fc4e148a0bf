// tessera: the command-line client of a Tessera cluster, and `tessera dev`, a local cluster.
// See `tessera help` and docs/design/sdk_cli.md.
#include <signal.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/cli/admin.h"
#include "services/cli/commands.h"
#include "services/cli/dev_cluster.h"
#include "services/cli/node_admin.h"
#include "services/common/config_sources.h"

// The global options; like the daemons' flags they can also come from the --config file and
// TESSERA_<NAME> environment variables (services/common/config_sources.h).
ABSL_FLAG(std::string, endpoint, "",
          "Gateway host:port (default: the one `tessera dev` wrote to ~/.tessera/dev.env, else "
          "127.0.0.1:7500).");
ABSL_FLAG(std::string, credentials_file, "",
          "KEY=VALUE file with TESSERA_ACCESS_KEY_ID and TESSERA_SECRET_ACCESS_KEY (or the AWS_ "
          "names), e.g. the s3.env of `tessera dev`.");
ABSL_FLAG(std::string, tls_ca_file, "", "PEM certificate to trust for the gateway's TLS.");
ABSL_FLAG(bool, tls, false, "Connect with TLS, trusting the system's roots.");
ABSL_FLAG(std::string, client_key_file, "",
          "Seal object data end to end with this client key (put encrypts, get decrypts, here; "
          "the cluster never sees the plaintext). Create one with `tessera keys new-client FILE`.");

namespace tessera::cli {
namespace {

constexpr char kUsage[] =
    "usage: tessera [--endpoint=HOST:PORT] [--credentials_file=FILE] [--tls_ca_file=PEM]\n"
    "               [--tls] [--client_key_file=FILE] COMMAND [ARGS]\n"
    "\n"
    "Objects and buckets:\n"
    "  mb BUCKET [--acl=ACL]     create a bucket (ACL: private, the default, or public-read)\n"
    "  rb BUCKET                 remove an empty bucket\n"
    "  ls [BUCKET[/PREFIX]]      list buckets, or the keys of a bucket (PRE = common prefix)\n"
    "  put FILE BUCKET/KEY       upload a file (FILE - = stdin)\n"
    "  get BUCKET/KEY FILE       download to a file (FILE - = stdout)\n"
    "  rm BUCKET/KEY             delete an object\n"
    "  stat BUCKET/KEY           show an object's size, etag, time, metadata\n"
    "  cluster status [--json]   the storage nodes the gateway sees, with repair (degraded\n"
    "                            stripes, queue, rate, time to full redundancy) and scrub\n"
    "\n"
    "Local cluster:\n"
    "  dev [--dir=DIR] [--nodes=6] [--sites=3] [--port=7500] [--s3_port=9000] [--k=4] [--m=2]\n"
    "      [--stripe_size=BYTES] [--node_binary=PATH] [--gateway_binary=PATH]\n"
    "      [--s3_binary=PATH]\n"
    "                            run a local cluster (gRPC gateway + S3 endpoint) in the\n"
    "                            foreground until Ctrl-C; writes DIR/s3.env for the aws CLI\n"
    "\n"
    "The gateway endpoint is --endpoint, else $TESSERA_ENDPOINT, else the one `tessera dev`\n"
    "wrote to ~/.tessera/dev.env, else 127.0.0.1:7500.\n"
    "Calls are signed as a user (the same access keys as S3): from --credentials_file (KEY=VALUE\n"
    "lines, e.g. the s3.env of `tessera dev`), else $TESSERA_ACCESS_KEY_ID and\n"
    "$TESSERA_SECRET_ACCESS_KEY, else $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY, else the\n"
    "dev user of the cluster `tessera dev` runs. TLS: --tls_ca_file (or $TESSERA_TLS_CA_FILE)\n"
    "trusts that certificate; --tls (or TESSERA_TLS=1) uses the system's roots.\n"
    "Every global option can also be set in a --config file (or $TESSERA_CONFIG) of\n"
    "`name = value` lines, or as TESSERA_<NAME>; see docs/configuration.md.\n"
    "Exit codes: 0 success, 1 the operation failed, 2 bad command line.\n";

// Splits "--name=value" / "--name value"; returns false if `arg` is not a flag.
bool FlagValue(const std::vector<std::string>& args, size_t* i, const std::string& name,
               std::string* value) {
  const std::string& a = args[*i];
  const std::string eq = absl::StrCat("--", name, "=");
  if (absl::StartsWith(a, eq)) {
    *value = a.substr(eq.size());
    return true;
  }
  if (a == absl::StrCat("--", name) && *i + 1 < args.size()) {
    *value = args[++*i];
    return true;
  }
  return false;
}

int Dev(const std::vector<std::string>& args, const char* argv0) {
  DevOptions o;
  o.argv0 = argv0;
  for (size_t i = 1; i < args.size(); ++i) {
    std::string v;
    int n = 0;
    uint64_t u = 0;
    if (FlagValue(args, &i, "dir", &v)) {
      o.dir = v;
    } else if (FlagValue(args, &i, "node_binary", &v)) {
      o.node_binary = v;
    } else if (FlagValue(args, &i, "gateway_binary", &v)) {
      o.gateway_binary = v;
    } else if (FlagValue(args, &i, "s3_binary", &v)) {
      o.s3_binary = v;
    } else if (FlagValue(args, &i, "s3_port", &v) && absl::SimpleAtoi(v, &n) && n >= 0 &&
               n < 65536) {
      o.s3_port = n;
    } else if (FlagValue(args, &i, "nodes", &v) && absl::SimpleAtoi(v, &n)) {
      o.nodes = n;
    } else if (FlagValue(args, &i, "sites", &v) && absl::SimpleAtoi(v, &n)) {
      o.sites = n;
    } else if (FlagValue(args, &i, "port", &v) && absl::SimpleAtoi(v, &n) && n >= 0 && n < 65536) {
      o.gateway_port = n;
    } else if (FlagValue(args, &i, "k", &v) && absl::SimpleAtoi(v, &n)) {
      o.k = n;
    } else if (FlagValue(args, &i, "m", &v) && absl::SimpleAtoi(v, &n)) {
      o.m = n;
    } else if (FlagValue(args, &i, "stripe_size", &v) && absl::SimpleAtoi(v, &u)) {
      o.stripe_size = u;
    } else {
      PrintError(absl::StrCat("dev: bad or unknown flag \"", args[i],
                              "\" (run `tessera help` for usage)"));
      return kExitUsage;
    }
  }
  return RunDevCluster(o);
}

int Main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  std::vector<std::string> all(argv + 1, argv + argc);
  std::vector<std::string> global;  // the global options, as --name=value
  std::vector<std::string> args;
  bool dev = false;
  for (size_t i = 0; i < all.size(); ++i) {
    std::string v;
    bool taken = false;
    for (const char* name : {"endpoint", "credentials_file", "tls_ca_file", "client_key_file",
                             "config", "log_level", "log_format"}) {
      if (!dev && !taken && FlagValue(all, &i, name, &v)) {
        global.push_back(absl::StrCat("--", name, "=", v));
        taken = true;
      }
    }
    if (taken) continue;
    if (!dev && (all[i] == "--tls" || absl::StartsWith(all[i], "--tls="))) {
      global.push_back(all[i]);
      continue;
    }
    if (args.empty() &&
        (all[i] == "help" || all[i] == "--help" || all[i] == "--helpfull" || all[i] == "-h")) {
      std::fputs(
          services::HelpText(absl::StrCat(kUsage, "\n", kAdminUsage, "\n", kNodeUsage)).c_str(),
          stdout);
      return kExitOk;
    }
    if (args.empty() && absl::StartsWith(all[i], "-") && all[i] != "-") {
      PrintError(absl::StrCat("unknown flag \"", all[i], "\" (run `tessera help` for usage)"));
      return kExitUsage;
    }
    if (args.empty() && all[i] == "dev") dev = true;
    args.push_back(all[i]);
  }
  absl::StatusOr<services::ParsedArgs> parsed =
      services::ApplyConfigSources(global, services::ConfigEnvironment::Process());
  if (!parsed.ok()) {
    PrintError(std::string(parsed.status().message()));
    return kExitUsage;
  }
  services::ApplyLogFlags();
  if (args.empty()) {
    std::fputs(kUsage, stderr);
    return kExitUsage;
  }
  if (dev) return Dev(args, argv[0]);
  if (args[0] == "keys") return RunKeysCommand(args);
  if (args[0] == "admin") return RunAdminCommand(args);
  if (args[0] == "node") return RunNodeCommand(args);
  sdk::ClientOptions options;
  if (absl::Status s = ResolveClientOptions(absl::GetFlag(FLAGS_credentials_file),
                                            absl::GetFlag(FLAGS_tls_ca_file),
                                            absl::GetFlag(FLAGS_tls), &options);
      !s.ok()) {
    PrintError(std::string(s.message()));
    return kExitUsage;
  }
  return RunCommand(ResolveEndpoint(absl::GetFlag(FLAGS_endpoint)), options,
                    absl::GetFlag(FLAGS_client_key_file), args);
}

}  // namespace
}  // namespace tessera::cli

int main(int argc, char** argv) { return tessera::cli::Main(argc, argv); }
