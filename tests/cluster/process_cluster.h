// ProcessCluster: real tessera-node processes (in simulated sites, one gossip membership, every
// call authenticated with a generated cluster secret) and one or more tessera-gateway processes
// (and optionally tessera-s3 processes) that learn the cluster from --seeds and keep their
// metadata on the nodes, for process-level tests. The front ends serve one user
// (credentials_file(), access_key() / secret_key()), whom client() signs as. Everything listens
// on 127.0.0.1 port 0; data lives under TEST_TMPDIR. A killed node can be restarted on its data
// directory and ports (RestartNode), a front end replaced by a new process (RestartGateway,
// RestartS3). Children are killed (SIGKILL) when the cluster is destroyed. Every wait is bounded.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "api/sdk/client.h"
#include "gtest/gtest.h"
#include "p2p/auth/cluster_secret.h"
#include "storage/crypto/key_file.h"

namespace tessera::testing {

inline std::string TmpDir() {
  const char* tmp = std::getenv("TEST_TMPDIR");
  return tmp != nullptr ? tmp : "/tmp";
}

inline std::string Runfile(const std::string& path) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  return absl::StrCat(srcdir != nullptr ? srcdir : ".", "/",
                      workspace != nullptr ? workspace : "tessera", "/", path);
}

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A child process with stdout/stderr redirected to files.
class Process {
 public:
  // `env`: extra NAME=VALUE entries added to the environment.
  Process(const std::string& name, std::vector<std::string> argv,
          const std::vector<std::string>& env = {}) {
    static int counter = 0;
    const std::string base = absl::StrCat(TmpDir(), "/", name, "_", ++counter);
    stdout_path_ = base + ".stdout";
    stderr_path_ = base + ".stderr";
    std::vector<char*> cargv;
    for (std::string& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    std::vector<std::string> envs;
    for (char** e = environ; *e != nullptr; ++e) envs.push_back(*e);
    envs.insert(envs.end(), env.begin(), env.end());
    std::vector<char*> cenv;
    for (std::string& e : envs) cenv.push_back(e.data());
    cenv.push_back(nullptr);
    const char* out_c = stdout_path_.c_str();
    const char* err_c = stderr_path_.c_str();
    pid_ = ::fork();
    if (pid_ == 0) {
      int out = ::open(out_c, O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int err = ::open(err_c, O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(out, 1);
      ::dup2(err, 2);
      ::execve(cargv[0], cargv.data(), cenv.data());
      ::_exit(127);
    }
  }
  ~Process() {
    if (running()) Kill(SIGKILL);
  }

  bool running() const { return !const_cast<Process*>(this)->Reap(false); }
  pid_t pid() const { return pid_; }
  std::string out() const { return ReadAll(stdout_path_); }
  std::string err() const { return ReadAll(stderr_path_); }

  // Sends `sig` and waits (up to 60 s) for the exit; returns the wait status.
  int Kill(int sig) {
    if (!Reap(false)) ::kill(pid_, sig);
    return Wait(absl::Seconds(60));
  }
  // Waits for the exit (SIGKILL after `timeout`); returns the wait status.
  int Wait(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (!Reap(false) && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
    if (!Reap(false)) {
      ADD_FAILURE() << "process " << pid_ << " did not exit in time";
      ::kill(pid_, SIGKILL);
      Reap(true);
    }
    return status_;
  }

 private:
  bool Reap(bool block) {
    if (exited_) return true;
    int status = 0;
    if (::waitpid(pid_, &status, block ? 0 : WNOHANG) == pid_) {
      exited_ = true;
      status_ = status;
    }
    return exited_;
  }

  pid_t pid_ = -1;
  bool exited_ = false;
  int status_ = -1;
  std::string stdout_path_, stderr_path_;
};

// What a command-line run of a production binary left.
struct CommandResult {
  int code = -1;  // exit code; -1 if it did not exit normally
  std::string out, err;
};

// Runs the `tessera` CLI (a data dependency of the test: //services/cli:tessera) with `args`,
// HOME pointed at a scratch directory, and waits up to `timeout`.
inline CommandResult RunTesseraCli(std::vector<std::string> args,
                                   absl::Duration timeout = absl::Seconds(120)) {
  args.insert(args.begin(), Runfile("services/cli/tessera"));
  Process p("tessera", args, {absl::StrCat("HOME=", TmpDir(), "/home")});
  const int status = p.Wait(timeout);
  CommandResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = p.out();
  r.err = p.err();
  return r;
}

// Waits for a `key=value ...` port file; empty map if it did not appear in time.
inline std::map<std::string, std::string> WaitPortFile(const std::string& path, Process* p) {
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline) {
    if (::access(path.c_str(), R_OK) == 0) {
      std::map<std::string, std::string> out;
      for (absl::string_view kv :
           absl::StrSplit(ReadAll(path), absl::ByAnyChar(" \n"), absl::SkipEmpty())) {
        std::pair<std::string, std::string> kvp = absl::StrSplit(kv, absl::MaxSplits('=', 1));
        out[kvp.first] = kvp.second;
      }
      return out;
    }
    if (!p->running()) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  ADD_FAILURE() << "no port file " << path << "; stderr: " << p->err();
  return {};
}

struct ProcessClusterOptions {
  int nodes = 6;
  int sites = 3;  // node i is in site i % sites
  int k = 4;
  int m = 2;
  uint64_t stripe_size = 1 << 20;
  int gateways = 1;
  int s3_gateways = 0;  // tessera-s3 processes (S3 over HTTP, same user as the gateways)
  std::string front_end_log_level = "warning";  // --log_level of tessera-gateway and tessera-s3
  // Extra tessera-node flags for node i (entry i, if present), kept across RestartNode.
  std::vector<std::vector<std::string>> node_args;
  std::vector<std::string> s3_flags;       // more flags for every tessera-s3
  std::vector<std::string> gateway_flags;  // more flags for every tessera-gateway
};

class ProcessCluster {
 public:
  explicit ProcessCluster(ProcessClusterOptions o) : options_(o) {
    static int counter = 0;
    root_ = absl::StrCat(TmpDir(), "/pc", ++counter);
    std::filesystem::remove_all(root_);  // a rerun in the same TEST_TMPDIR starts afresh
    std::filesystem::create_directories(root_);
    key_file_ = root_ + "/master.key";
    secret_file_ = root_ + "/cluster.secret";
    EXPECT_TRUE(storage::GenerateMasterKeyFile(key_file_, 1).ok());
    EXPECT_TRUE(p2p::ClusterSecret::Generate(secret_file_).ok());
    credentials_file_ = root_ + "/users.ini";
    {
      std::ofstream out(credentials_file_);
      out << "[tester]\naccess_key = " << access_key() << "\nsecret_key = " << secret_key() << "\n";
    }
    EXPECT_EQ(::chmod(credentials_file_.c_str(), 0600), 0);
    // node0 first: its gossip address seeds the others' membership.
    std::string gossip_seed;
    for (int i = 0; i < o.nodes; ++i) {
      port_files_.push_back(absl::StrCat(root_, "/node", i, ".ports"));
      nodes_.push_back(
          StartNodeProcess(i, {"127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"}, gossip_seed));
      if (i == 0) {
        auto ports = WaitPortFile(port_files_[0], nodes_[0].get());
        gossip_seed = ports["gossip_address"];
        EXPECT_FALSE(gossip_seed.empty()) << "node0 has no gossip address";
      }
    }
    for (int i = 0; i < o.nodes; ++i) {
      auto ports = WaitPortFile(port_files_[i], nodes_[i].get());
      node_addresses_.push_back(absl::StrCat("127.0.0.1:", ports["grpc_port"]));
      node_listen_.push_back({node_addresses_.back(),
                              absl::StrCat("127.0.0.1:", ports["admin_port"]),
                              ports["gossip_address"]});
      node_ids_.push_back(ports["node_id"]);
    }
    for (int g = 0; g < o.gateways; ++g) StartGateway();
    for (int s = 0; s < o.s3_gateways; ++s) StartS3();
  }

  // Starts one more gateway over the same nodes and waits until it sees every live node.
  // Returns its index.
  int StartGateway() {
    const int g = static_cast<int>(gateways_.size());
    gateways_.emplace_back();
    endpoints_.emplace_back();
    clients_.emplace_back();
    StartGatewayAt(g);
    return g;
  }

  // SIGTERM (clean stop) or SIGKILL gateway `g`, then starts a new one in its place (new port).
  void RestartGateway(int g, int sig = SIGTERM) {
    clients_[g].reset();
    gateways_[g]->Kill(sig);
    StartGatewayAt(g);
  }

  // Starts one more tessera-s3 over the same nodes; returns its index once it serves.
  int StartS3() {
    const int s = static_cast<int>(s3_.size());
    s3_.emplace_back();
    s3_ports_.push_back(0);
    s3_admin_ports_.push_back(0);
    StartS3At(s);
    return s;
  }
  // Sends `sig` to tessera-s3 `s` and waits for its exit; returns the wait status.
  int KillS3(int s, int sig = SIGKILL) { return s3_[s]->Kill(sig); }
  // Sends `sig` to tessera-s3 `s` without waiting (SIGHUP: reload credentials and TLS).
  void SignalS3(int s, int sig) { ::kill(s3_[s]->pid(), sig); }
  // What tessera-s3 `s` wrote to stderr so far.
  std::string s3_stderr(int s) const { return s3_[s]->err(); }
  std::string gateway_stderr(int g) const { return gateways_[g]->err(); }
  std::string node_stderr(int i) const { return nodes_[i]->err(); }
  // Starts a new tessera-s3 in place of `s` (which must have exited; new port). S3 front ends
  // keep no state of their own: everything they acknowledged lives on the nodes.
  void RestartS3(int s) { StartS3At(s); }
  int s3_port(int s = 0) const { return s3_ports_[s]; }
  // tessera-s3's admin port (/metrics, /healthz, /readyz).
  int s3_admin_port(int s = 0) const { return s3_admin_ports_[s]; }
  // tessera-gateway's admin port; a node's admin port (from its port file).
  int gateway_admin_port(int g = 0) const { return gateway_admin_ports_[g]; }
  int node_admin_port(int i) const {
    int port = 0;
    const std::string& admin = node_listen_[i].admin;
    EXPECT_TRUE(absl::SimpleAtoi(admin.substr(admin.rfind(':') + 1), &port)) << admin;
    return port;
  }

  sdk::Client& client(int gateway = 0) { return *clients_[gateway]; }
  // The gateways' user (user id "tester") and a client's options signing as that user.
  static std::string access_key() { return "TESTERACCESSKEY00001"; }
  static std::string secret_key() { return "tester-secret-key-not-secret-01"; }
  static sdk::ClientOptions client_options() {
    sdk::ClientOptions o;
    o.access_key_id = access_key();
    o.secret_access_key = secret_key();
    return o;
  }
  const std::string& credentials_file() const { return credentials_file_; }
  const std::string& endpoint(int gateway = 0) const { return endpoints_[gateway]; }
  const ProcessClusterOptions& options() const { return options_; }
  const std::string& secret_file() const { return secret_file_; }
  const std::string& key_file() const { return key_file_; }
  const std::string& root() const { return root_; }
  // gRPC host:port of every node (SliceService and MetaService share the port).
  const std::vector<std::string>& node_addresses() const { return node_addresses_; }
  int site_of(int node) const { return node % options_.sites; }

  void KillNode(int i) { nodes_[i]->Kill(SIGKILL); }
  // Starts node `i` again after KillNode (a running node is killed first) on its data directory
  // (node key, slices, metadata) and its previous gRPC, admin and gossip addresses, as a
  // production node restarts on its configured ports, joining through the gossip address of a
  // live node. Waits for its port file; false (with the reason added as a test failure) if it did
  // not come up as the same node at the same address. The old process's ports may linger
  // briefly: up to 5 attempts.
  bool RestartNode(int i) {
    if (nodes_[i]->running()) nodes_[i]->Kill(SIGKILL);
    std::string seed;
    for (int j = 0; j < options_.nodes && seed.empty(); ++j) {
      if (j != i && nodes_[j]->running()) seed = node_listen_[j].gossip;
    }
    for (int attempt = 0; attempt < 5; ++attempt) {
      std::filesystem::remove(port_files_[i]);
      nodes_[i] = StartNodeProcess(i, node_listen_[i], seed);
      const absl::Time deadline = absl::Now() + absl::Seconds(30);
      while (absl::Now() < deadline && nodes_[i]->running() &&
             ::access(port_files_[i].c_str(), R_OK) != 0) {
        absl::SleepFor(absl::Milliseconds(20));
      }
      if (nodes_[i]->running() && ::access(port_files_[i].c_str(), R_OK) == 0) {
        auto ports = WaitPortFile(port_files_[i], nodes_[i].get());
        if (ports["node_id"] != node_ids_[i] ||
            absl::StrCat("127.0.0.1:", ports["grpc_port"]) != node_addresses_[i]) {
          ADD_FAILURE() << "node" << i << " came back as " << ports["node_id"] << " on port "
                        << ports["grpc_port"] << ", not " << node_ids_[i] << " at "
                        << node_addresses_[i];
          return false;
        }
        return true;
      }
      if (nodes_[i]->running()) nodes_[i]->Kill(SIGKILL);
      absl::SleepFor(absl::Milliseconds(500));
    }
    ADD_FAILURE() << "node" << i << " did not restart: " << nodes_[i]->err();
    return false;
  }
  const std::vector<std::string>& node_ids() const { return node_ids_; }
  int live_nodes() const {
    int n = 0;
    for (const auto& p : nodes_) n += p->running() ? 1 : 0;
    return n;
  }

  // Waits (up to 30 s) until gateway `g` sees exactly `n` nodes alive.
  bool WaitAlive(int n, int g = 0) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline) {
      auto st = clients_[g]->GetClusterStatus();
      if (st.ok()) {
        int alive = 0;
        for (const auto& node : st->nodes) alive += node.state == "alive" ? 1 : 0;
        if (alive == n) return true;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    return false;
  }

 private:
  struct NodeListen {
    std::string grpc, admin, gossip;  // host:port each
  };

  std::unique_ptr<Process> StartNodeProcess(int i, const NodeListen& listen,
                                            const std::string& gossip_seed) {
    std::vector<std::string> args = {Runfile("services/node/tessera-node"),
                                     absl::StrCat("--data_dir=", root_, "/node", i),
                                     "--listen=" + listen.grpc,
                                     "--admin_listen=" + listen.admin,
                                     "--gossip_listen=" + listen.gossip,
                                     "--cluster_secret_file=" + secret_file_,
                                     absl::StrCat("--site=site", i % options_.sites),
                                     "--reserved_bytes=0",
                                     "--gossip_suspicion_timeout=3s",
                                     "--log_level=warning",
                                     "--shutdown_grace=2s",
                                     "--port_file=" + port_files_[i]};
    if (!gossip_seed.empty()) args.push_back("--seeds=" + gossip_seed);
    if (static_cast<size_t>(i) < options_.node_args.size()) {
      args.insert(args.end(), options_.node_args[i].begin(), options_.node_args[i].end());
    }
    return std::make_unique<Process>(absl::StrCat("node", i), std::move(args));
  }

  // The command line of a front end (tessera-s3 or tessera-gateway) over this cluster, then
  // `flags` (later flags win).
  std::vector<std::string> FrontEndArgs(const std::string& binary, const std::string& port_file,
                                        const std::vector<std::string>& flags) const {
    const ProcessClusterOptions& o = options_;
    std::vector<std::string> args = {Runfile(binary),
                                     "--listen=127.0.0.1:0",
                                     "--admin_listen=127.0.0.1:0",
                                     "--master_key_file=" + key_file_,
                                     "--cluster_secret_file=" + secret_file_,
                                     "--credentials_file=" + credentials_file_,
                                     "--seeds=" + absl::StrJoin(node_addresses_, ","),
                                     absl::StrCat("--k=", o.k),
                                     absl::StrCat("--m=", o.m),
                                     absl::StrCat("--stripe_size=", o.stripe_size),
                                     "--log_level=" + o.front_end_log_level,
                                     "--port_file=" + port_file};
    args.insert(args.end(), flags.begin(), flags.end());
    return args;
  }

  void StartS3At(int s) {
    const ProcessClusterOptions& o = options_;
    static int restarts = 0;
    const std::string port_file = absl::StrCat(root_, "/s3_", s, "_", ++restarts, ".ports");
    s3_[s] = std::make_unique<Process>(
        absl::StrCat("s3_", s), FrontEndArgs("services/s3/tessera-s3", port_file, o.s3_flags));
    auto ports = WaitPortFile(port_file, s3_[s].get());
    int port = 0;
    EXPECT_TRUE(absl::SimpleAtoi(ports["s3_port"], &port)) << "tessera-s3 " << s << " has no port";
    s3_ports_[s] = port;
    int admin = 0;
    EXPECT_TRUE(absl::SimpleAtoi(ports["admin_port"], &admin))
        << "tessera-s3 " << s << " has no admin port";
    s3_admin_ports_[s] = admin;
  }

  void StartGatewayAt(int g) {
    const ProcessClusterOptions& o = options_;
    static int restarts = 0;
    const std::string gw_ports = absl::StrCat(root_, "/gateway", g, "_", ++restarts, ".ports");
    std::vector<std::string> flags = {"--shutdown_grace=2s"};
    flags.insert(flags.end(), o.gateway_flags.begin(), o.gateway_flags.end());
    gateways_[g] = std::make_unique<Process>(
        absl::StrCat("gateway", g),
        FrontEndArgs("services/gatewayd/tessera-gateway", gw_ports, flags));
    auto ports = WaitPortFile(gw_ports, gateways_[g].get());
    endpoints_[g] = absl::StrCat("127.0.0.1:", ports["grpc_port"]);
    int admin = 0;
    EXPECT_TRUE(absl::SimpleAtoi(ports["admin_port"], &admin))
        << "gateway " << g << ": no admin port";
    if (gateway_admin_ports_.size() <= static_cast<size_t>(g)) gateway_admin_ports_.resize(g + 1);
    gateway_admin_ports_[g] = admin;
    auto client = sdk::Client::Connect(endpoints_[g], client_options());
    EXPECT_TRUE(client.ok()) << client.status();
    if (client.ok()) clients_[g] = *std::move(client);
    EXPECT_TRUE(WaitAlive(live_nodes(), g)) << "gateway " << g << " does not see every live node";
  }

  ProcessClusterOptions options_;
  std::string root_, key_file_, secret_file_, credentials_file_;
  std::vector<std::string> port_files_, node_addresses_, node_ids_;
  std::vector<NodeListen> node_listen_;
  std::vector<std::unique_ptr<Process>> nodes_;
  std::vector<std::unique_ptr<Process>> gateways_;
  std::vector<std::string> endpoints_;
  std::vector<std::unique_ptr<sdk::Client>> clients_;
  std::vector<std::unique_ptr<Process>> s3_;
  std::vector<int> s3_ports_;
  std::vector<int> s3_admin_ports_;
  std::vector<int> gateway_admin_ports_;
};

// Deterministic pseudo-random bytes (a seeded xorshift), different per seed.
inline std::string TestBytes(size_t n, uint64_t seed) {
  std::string out(n, '\0');
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    out[i] = static_cast<char>(x);
  }
  return out;
}

}  // namespace tessera::testing
