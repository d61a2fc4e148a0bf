#include "services/cli/dev_cluster.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "api/sdk/client.h"
#include "base/sodium.h"
#include "p2p/auth/cluster_secret.h"
#include "services/cli/commands.h"
#include "storage/crypto/key_file.h"

namespace tessera::cli {
namespace {

// Appended to s3.env: Debian 12's awscli 2.9 predates AWS_ENDPOINT_URL, so a shell that sources
// the file (set -a; . s3.env) also gets an `aws` that passes the endpoint explicitly. Tools that
// read the file as KEY=VALUE lines skip the comment and the function line.
constexpr char kAwsEndpointShim[] =
    "# Shells that source this file get an aws that uses the endpoint above (awscli < 2.13\n"
    "# ignores AWS_ENDPOINT_URL):\n"
    "aws() { command aws --endpoint-url \"$AWS_ENDPOINT_URL\" \"$@\"; }\n";

namespace fs = std::filesystem;

struct Child {
  std::string name;
  pid_t pid = -1;
  std::string port_file;
  std::string log;
  std::map<std::string, std::string> ports;  // from the port file
  bool exited = false;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Resolves a sibling binary: next to argv0 in bazel-bin layout (services/cli/tessera ->
// services/<dir>/<name>), or in the same directory (installed layout).
std::string FindSibling(const std::string& argv0, const std::string& dir, const std::string& name) {
  std::vector<fs::path> bases;
  bases.push_back(fs::path(argv0).parent_path());
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) bases.push_back(self.parent_path());
  for (const fs::path& base : bases) {
    for (const fs::path& candidate : {base / ".." / dir / name, base / name}) {
      if (::access(candidate.c_str(), X_OK) == 0) return candidate.lexically_normal().string();
    }
  }
  return "";
}

pid_t Spawn(const std::vector<std::string>& args, const std::string& log) {
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (std::string& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Own process group: a terminal's Ctrl-C reaches only `tessera dev`, which then stops the
    // children in order (gateway first).
    ::setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  if (fd >= 0) ::close(fd);
  return pid;
}

bool Reap(Child* c) {
  if (c->exited || c->pid <= 0) return true;
  int status = 0;
  if (::waitpid(c->pid, &status, WNOHANG) == c->pid) {
    c->exited = true;
    return true;
  }
  return false;
}

// Waits for the port file (or the child's exit), up to `timeout`.
bool WaitPorts(Child* c, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (::access(c->port_file.c_str(), R_OK) == 0) {
      for (absl::string_view kv :
           absl::StrSplit(ReadAll(c->port_file), absl::ByAnyChar(" \n"), absl::SkipEmpty())) {
        std::pair<std::string, std::string> p = absl::StrSplit(kv, absl::MaxSplits('=', 1));
        c->ports[p.first] = p.second;
      }
      return true;
    }
    if (Reap(c)) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return false;
}

void StopAll(std::vector<Child>& children, int first, int last) {
  for (int i = first; i < last; ++i) {
    if (!Reap(&children[i])) ::kill(children[i].pid, SIGTERM);
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  for (int i = first; i < last; ++i) {
    while (!Reap(&children[i]) && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(20));
    if (!Reap(&children[i])) {
      std::fprintf(stderr, "tessera dev: %s did not stop within 15 s; killing it\n",
                   children[i].name.c_str());
      ::kill(children[i].pid, SIGKILL);
      ::waitpid(children[i].pid, nullptr, 0);
      children[i].exited = true;
    }
  }
}

std::string LastLine(const std::string& path) {
  std::string text = ReadAll(path);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  const size_t nl = text.rfind('\n');
  return nl == std::string::npos ? text : text.substr(nl + 1);
}

// `n` random characters of `alphabet` (secure random).
std::string RandomString(size_t n, absl::string_view alphabet) {
  std::string out(n, '\0');
  for (char& c : out) {
    c = alphabet[SecureRandomUniform(static_cast<uint32_t>(alphabet.size()))];
  }
  return out;
}

// The dev S3 user: created once (0600, O_EXCL) with a random access key and secret, else read
// back from the file.
bool DevS3User(const std::string& path, std::string* access_key, std::string* secret_key) {
  if (!fs::exists(path)) {
    const std::string upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    const std::string any = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    const std::string ak = "TSDEV" + RandomString(15, upper);
    const std::string sk = RandomString(40, any);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return false;
    const std::string text = absl::StrCat(
        "# tessera dev: the S3 user of the local cluster (services/s3/auth/credential_store.h)\n"
        "[dev]\naccess_key = ",
        ak, "\nsecret_key = ", sk, "\n");
    const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::close(fd);
    if (!ok) return false;
  }
  for (absl::string_view line : absl::StrSplit(ReadAll(path), '\n')) {
    std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits('=', 1));
    const std::string key(absl::StripAsciiWhitespace(kv.first));
    const std::string value(absl::StripAsciiWhitespace(kv.second));
    if (key == "access_key" && access_key->empty()) *access_key = value;
    if (key == "secret_key" && secret_key->empty()) *secret_key = value;
  }
  return !access_key->empty() && !secret_key->empty();
}

// Writes `text` to `path` with mode 0600 (replacing it).
bool WritePrivateFile(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  ::fchmod(fd, 0600);
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok && ::rename(tmp.c_str(), path.c_str()) == 0;
}

}  // namespace

int RunDevCluster(const DevOptions& in) {
  DevOptions o = in;
  if (o.dir.empty()) {
    const char* home = std::getenv("HOME");
    o.dir = home != nullptr && *home != '\0' ? absl::StrCat(home, "/.tessera/dev") : ".tessera-dev";
  }
  if (o.nodes < o.k + o.m) {
    PrintError(absl::StrCat("--nodes=", o.nodes, " is too few: erasure coding ", o.k, "+", o.m,
                            " needs at least ", o.k + o.m, " nodes"));
    return kExitUsage;
  }
  if (o.sites < 1 || o.sites > o.nodes) {
    PrintError("--sites must be between 1 and --nodes");
    return kExitUsage;
  }
  if (o.node_binary.empty()) o.node_binary = FindSibling(o.argv0, "node", "tessera-node");
  if (o.gateway_binary.empty()) {
    o.gateway_binary = FindSibling(o.argv0, "gatewayd", "tessera-gateway");
  }
  if (o.s3_binary.empty()) o.s3_binary = FindSibling(o.argv0, "s3", "tessera-s3");
  if (o.node_binary.empty() || o.gateway_binary.empty() || o.s3_binary.empty()) {
    PrintError(
        "cannot find tessera-node / tessera-gateway / tessera-s3 next to this binary; build them "
        "(bazel build //services/cli:tessera) or pass --node_binary / --gateway_binary / "
        "--s3_binary");
    return kExitError;
  }

  std::error_code ec;
  const fs::path dir = fs::absolute(o.dir);
  fs::create_directories(dir / "run", ec);
  fs::create_directories(dir / "logs", ec);
  if (ec) {
    PrintError(absl::StrCat("cannot create ", dir.string(), ": ", ec.message()));
    return kExitError;
  }
  ::chmod(dir.c_str(), 0700);
  const std::string lock_path = (dir / "lock").string();
  const int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0 || ::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    PrintError(absl::StrCat("another `tessera dev` is running on ", dir.string(),
                            " (stop it, or use --dir)"));
    return kExitError;
  }

  // Secrets: generated once, 0600, never overwritten.
  const std::string key_file = (dir / "master.key").string();
  if (!fs::exists(key_file)) {
    if (absl::Status s = storage::GenerateMasterKeyFile(key_file, 1); !s.ok()) {
      PrintError(absl::StrCat("cannot create the master key file: ", s.message()));
      return kExitError;
    }
  }
  const std::string secret_file = (dir / "cluster.secret").string();
  if (!fs::exists(secret_file)) {
    if (absl::Status s = p2p::ClusterSecret::Generate(secret_file); !s.ok()) {
      PrintError(absl::StrCat("cannot create the cluster secret: ", s.message()));
      return kExitError;
    }
  }

  const std::string s3_credentials = (dir / "s3-credentials.ini").string();
  std::string s3_access_key, s3_secret_key;
  if (!DevS3User(s3_credentials, &s3_access_key, &s3_secret_key)) {
    PrintError(absl::StrCat("cannot create or read the dev S3 user in ", s3_credentials));
    return kExitError;
  }

  // Signals are handled by sigtimedwait below; block them before starting children.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  ::sigprocmask(SIG_BLOCK, &signals, nullptr);

  // Nodes: node0 first (the membership seed), then the others seeded with its gossip address.
  // Every node serves only mutual TLS with certificates derived from the cluster secret and
  // checks the cluster-auth token of every call (--cluster_secret_file).
  std::vector<Child> children;
  children.reserve(static_cast<size_t>(o.nodes) + 2);  // references below stay valid
  std::vector<std::string> node_addresses;
  std::string seed;
  for (int i = 0; i < o.nodes; ++i) {
    Child c;
    c.name = absl::StrCat("node", i);
    c.port_file = (dir / "run" / (c.name + ".ports")).string();
    c.log = (dir / "logs" / (c.name + ".log")).string();
    fs::remove(c.port_file, ec);
    // The gRPC port a node had last time: the metadata layout records node addresses, so a
    // node that came back on another port would be unreachable to the metadata quorums.
    const std::string port_memo = (dir / (c.name + ".grpc_port")).string();
    int remembered = 0;
    {
      std::ifstream in(port_memo);
      std::string text;
      if (in && std::getline(in, text) && absl::SimpleAtoi(text, &remembered) &&
          (remembered <= 0 || remembered >= 65536)) {
        remembered = 0;
      }
    }
    std::vector<std::string> args = {o.node_binary,
                                     "--data_dir=" + (dir / c.name).string(),
                                     absl::StrCat("--listen=127.0.0.1:", remembered),
                                     "--admin_listen=127.0.0.1:0",
                                     "--gossip_listen=127.0.0.1:0",
                                     absl::StrCat("--site=site", i % o.sites),
                                     "--zone=dev",
                                     absl::StrCat("--host=dev-", c.name),
                                     "--reserved_bytes=0",
                                     "--cluster_secret_file=" + secret_file,
                                     "--log_level=warning",
                                     "--shutdown_grace=5s",
                                     "--port_file=" + c.port_file};
    if (!seed.empty()) args.push_back("--seeds=" + seed);
    c.pid = Spawn(args, c.log);
    children.push_back(std::move(c));
    Child& started = children.back();
    if (i == 0 || i == o.nodes - 1) {
      // node0 must be up to seed the others; the rest start in parallel.
      for (int j = i == 0 ? 0 : 1; j <= i; ++j) {
        Child& w = children[j];
        if (!w.ports.empty()) continue;
        if (!WaitPorts(&w, absl::Seconds(60))) {
          PrintError(
              absl::StrCat(w.name, " did not start: ", LastLine(w.log), " (log: ", w.log, ")"));
          StopAll(children, 0, static_cast<int>(children.size()));
          return kExitError;
        }
      }
      if (i == 0) seed = started.ports["gossip_address"];
    }
  }
  for (Child& c : children) {
    node_addresses.push_back(absl::StrCat("127.0.0.1:", c.ports["grpc_port"]));
    std::ofstream((dir / (c.name + ".grpc_port")).string(), std::ios::trunc)
        << c.ports["grpc_port"] << "\n";
  }

  Child gw;
  gw.name = "gateway";
  gw.port_file = (dir / "run" / "gateway.ports").string();
  gw.log = (dir / "logs" / "gateway.log").string();
  fs::remove(gw.port_file, ec);
  std::vector<std::string> gw_args = {o.gateway_binary,
                                      absl::StrCat("--listen=127.0.0.1:", o.gateway_port),
                                      "--admin_listen=127.0.0.1:0",
                                      "--master_key_file=" + key_file,
                                      "--cluster_secret_file=" + secret_file,
                                      "--credentials_file=" + s3_credentials,
                                      "--seeds=" + absl::StrJoin(node_addresses, ","),
                                      absl::StrCat("--k=", o.k),
                                      absl::StrCat("--m=", o.m),
                                      "--log_level=warning",
                                      "--shutdown_grace=5s",
                                      "--port_file=" + gw.port_file};
  if (o.stripe_size > 0) gw_args.push_back(absl::StrCat("--stripe_size=", o.stripe_size));
  gw.pid = Spawn(gw_args, gw.log);
  children.push_back(std::move(gw));
  Child& gateway = children.back();
  const int gw_index = static_cast<int>(children.size()) - 1;
  if (!WaitPorts(&gateway, absl::Seconds(60))) {
    PrintError(absl::StrCat("the gateway did not start: ", LastLine(gateway.log),
                            " (log: ", gateway.log, ")"));
    StopAll(children, 0, static_cast<int>(children.size()));
    return kExitError;
  }
  const std::string endpoint = absl::StrCat("127.0.0.1:", gateway.ports["grpc_port"]);

  Child s3c;
  s3c.name = "s3";
  s3c.port_file = (dir / "run" / "s3.ports").string();
  s3c.log = (dir / "logs" / "s3.log").string();
  fs::remove(s3c.port_file, ec);
  std::vector<std::string> s3_args = {o.s3_binary,
                                      absl::StrCat("--listen=127.0.0.1:", o.s3_port),
                                      "--admin_listen=127.0.0.1:0",
                                      "--master_key_file=" + key_file,
                                      "--cluster_secret_file=" + secret_file,
                                      "--seeds=" + absl::StrJoin(node_addresses, ","),
                                      "--credentials_file=" + s3_credentials,
                                      "--region=us-east-1",
                                      absl::StrCat("--k=", o.k),
                                      absl::StrCat("--m=", o.m),
                                      "--log_level=warning",
                                      "--port_file=" + s3c.port_file};
  if (o.stripe_size > 0) s3_args.push_back(absl::StrCat("--stripe_size=", o.stripe_size));
  s3c.pid = Spawn(s3_args, s3c.log);
  children.push_back(std::move(s3c));
  Child& s3 = children.back();
  if (!WaitPorts(&s3, absl::Seconds(60))) {
    PrintError(
        absl::StrCat("the S3 endpoint did not start: ", LastLine(s3.log), " (log: ", s3.log, ")"));
    StopAll(children, 0, static_cast<int>(children.size()));
    return kExitError;
  }
  const std::string s3_endpoint = absl::StrCat("http://127.0.0.1:", s3.ports["s3_port"]);
  const int all = static_cast<int>(children.size());

  // Healthy = the gateway answers and sees every node alive.
  bool healthy = false;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (!healthy && absl::Now() < deadline) {
    sdk::ClientOptions co;
    co.access_key_id = s3_access_key;
    co.secret_access_key = s3_secret_key;
    auto client = sdk::Client::Connect(endpoint, co);
    if (client.ok()) {
      auto st = (*client)->GetClusterStatus();
      if (st.ok()) {
        int alive = 0;
        for (const auto& n : st->nodes) alive += n.state == "alive" ? 1 : 0;
        healthy = alive == o.nodes;
      }
    }
    if (!healthy) absl::SleepFor(absl::Milliseconds(100));
  }
  if (!healthy) {
    PrintError(absl::StrCat(
        "the cluster did not become healthy within 60 s (logs: ", (dir / "logs").string(), ")"));
    StopAll(children, gw_index, all);
    StopAll(children, 0, gw_index);
    return kExitError;
  }

  const std::string s3_env_path = (dir / "s3.env").string();
  if (!WritePrivateFile(s3_env_path,
                        absl::StrCat("AWS_ENDPOINT_URL=", s3_endpoint, "\nAWS_ACCESS_KEY_ID=",
                                     s3_access_key, "\nAWS_SECRET_ACCESS_KEY=", s3_secret_key,
                                     "\nAWS_DEFAULT_REGION=us-east-1\n", kAwsEndpointShim))) {
    PrintError(absl::StrCat("cannot write ", s3_env_path));
    StopAll(children, gw_index, all);
    StopAll(children, 0, gw_index);
    return kExitError;
  }
  // The CLI's defaults: this gateway, as the dev user (whose keys stay in the private s3.env;
  // dev.env only points at it).
  const std::string env_lines =
      absl::StrCat("TESSERA_ENDPOINT=", endpoint, "\nTESSERA_CREDENTIALS_FILE=", s3_env_path, "\n");
  { std::ofstream((dir / "dev.env").string()) << env_lines; }
  if (const std::string path = DevEnvPath(); !path.empty()) {
    fs::create_directories(fs::path(path).parent_path(), ec);
    std::ofstream(path) << env_lines;
  }

  std::printf("Tessera dev cluster is up: %d nodes in %d sites, erasure coding %d+%d\n", o.nodes,
              o.sites, o.k, o.m);
  std::printf("  gateway (gRPC)     %s\n", endpoint.c_str());
  std::printf("  gateway metrics    http://127.0.0.1:%s/metrics\n",
              gateway.ports["admin_port"].c_str());
  std::printf("  S3 endpoint        %s   (metrics http://127.0.0.1:%s/metrics)\n",
              s3_endpoint.c_str(), s3.ports["admin_port"].c_str());
  std::printf("  S3 access key      %s\n", s3_access_key.c_str());
  std::printf("  S3 secret key      %s\n", s3_secret_key.c_str());
  std::printf("  S3 settings        %s   (set -a; . %s; aws s3 ls)\n", s3_env_path.c_str(),
              s3_env_path.c_str());
  for (int i = 0; i < o.nodes; ++i) {
    std::printf("  %-6s site%-3d   grpc 127.0.0.1:%-6s metrics http://127.0.0.1:%s/metrics\n",
                children[i].name.c_str(), i % o.sites, children[i].ports["grpc_port"].c_str(),
                children[i].ports["admin_port"].c_str());
  }
  std::printf("  data, keys, logs   %s\n", dir.c_str());
  std::printf("Try: tessera mb demo && tessera put README.md demo/readme && tessera ls demo\n");
  std::printf("     set -a; . %s; set +a; aws s3 ls\n", s3_env_path.c_str());
  std::printf("Press Ctrl-C to stop.\n");
  std::fflush(stdout);

  // Foreground until a signal; report children that die (the cluster keeps serving with up to
  // m nodes down).
  while (true) {
    timespec tick{0, 200 * 1000 * 1000};
    const int sig = ::sigtimedwait(&signals, nullptr, &tick);
    if (sig == SIGINT || sig == SIGTERM) break;
    for (Child& c : children) {
      if (!c.exited && Reap(&c)) {
        std::fprintf(stderr, "tessera dev: %s exited (log: %s)\n", c.name.c_str(), c.log.c_str());
      }
    }
    if (children[gw_index].exited || children[gw_index + 1].exited) {
      PrintError(absl::StrCat("the ", children[gw_index].exited ? "gateway" : "S3 endpoint",
                              " exited; stopping the cluster"));
      StopAll(children, gw_index, all);
      StopAll(children, 0, gw_index);
      return kExitError;
    }
  }
  std::printf("stopping...\n");
  std::fflush(stdout);
  StopAll(children, gw_index, all);
  StopAll(children, 0, gw_index);
  std::printf("stopped\n");
  return kExitOk;
}

}  // namespace tessera::cli
