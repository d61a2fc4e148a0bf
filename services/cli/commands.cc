#include "services/cli/commands.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "api/sdk/client.h"
#include "services/cli/cluster_status.h"
#include "services/cli/progress.h"

namespace tessera::cli {
namespace {

constexpr char kDefaultEndpoint[] = "127.0.0.1:7500";

std::string Time(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", t, absl::LocalTimeZone());
}

// Splits "bucket/key" (key required) or "bucket[/prefix]" (key optional).
bool SplitPath(const std::string& path, bool key_required, std::string* bucket, std::string* key) {
  const size_t slash = path.find('/');
  *bucket = path.substr(0, slash);
  *key = slash == std::string::npos ? "" : path.substr(slash + 1);
  if (bucket->empty()) return false;
  return !key_required || !key->empty();
}

// Set by RunCommand when it found no credentials: said after an UNAUTHENTICATED answer.
const char* missing_credentials_hint = nullptr;

int Fail(const absl::Status& s) {
  std::string message(s.message());
  if (absl::IsUnauthenticated(s) && missing_credentials_hint != nullptr) {
    absl::StrAppend(&message, " (", missing_credentials_hint, ")");
  }
  PrintError(message);
  return kExitError;
}

bool Interactive() { return ::isatty(2) == 1; }

}  // namespace

int UsageError(const std::string& message) {
  PrintError(absl::StrCat(message, " (run `tessera help` for usage)"));
  return kExitUsage;
}

bool FlagEquals(const std::string& arg, const std::string& name, std::string* value) {
  const std::string prefix = absl::StrCat("--", name, "=");
  if (!absl::StartsWith(arg, prefix)) return false;
  *value = arg.substr(prefix.size());
  return true;
}

void PrintError(const std::string& message) {
  // One line: newlines in messages (rare) are flattened.
  std::string line = absl::StrReplaceAll(message, {{"\n", " "}});
  std::fprintf(stderr, "tessera: %s\n", line.c_str());
}

std::string DevEnvPath() {
  const char* home = std::getenv("HOME");
  if (home == nullptr || *home == '\0') return "";
  return absl::StrCat(home, "/.tessera/dev.env");
}

std::map<std::string, std::string> ReadEnvFile(const std::string& path) {
  std::map<std::string, std::string> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view v = absl::StripAsciiWhitespace(line);
    if (v.empty() || v.front() == '#') continue;
    const size_t eq = v.find('=');
    if (eq == absl::string_view::npos || eq == 0) continue;
    const absl::string_view name = v.substr(0, eq);
    if (name.find_first_of(" \t(") != absl::string_view::npos) continue;  // not KEY=VALUE
    out[std::string(name)] = std::string(v.substr(eq + 1));
  }
  return out;
}

std::string ResolveEndpoint(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("TESSERA_ENDPOINT"); env != nullptr && *env != '\0') {
    return env;
  }
  if (const std::string path = DevEnvPath(); !path.empty()) {
    std::map<std::string, std::string> dev = ReadEnvFile(path);
    if (auto it = dev.find("TESSERA_ENDPOINT"); it != dev.end() && !it->second.empty()) {
      return it->second;
    }
  }
  return kDefaultEndpoint;
}

namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

// A key pair under either naming (TESSERA_* first), from `vars`; false if neither is complete.
bool PickKeys(const std::map<std::string, std::string>& vars, sdk::ClientOptions* options) {
  for (const auto& [id, secret] :
       {std::pair<const char*, const char*>{"TESSERA_ACCESS_KEY_ID", "TESSERA_SECRET_ACCESS_KEY"},
        {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}}) {
    auto i = vars.find(id);
    auto s = vars.find(secret);
    if (i != vars.end() && s != vars.end() && !i->second.empty() && !s->second.empty()) {
      options->access_key_id = i->second;
      options->secret_access_key = s->second;
      return true;
    }
  }
  return false;
}

}  // namespace

absl::Status ResolveClientOptions(const std::string& credentials_file,
                                  const std::string& tls_ca_file, bool tls,
                                  sdk::ClientOptions* options) {
  options->tls_root_certs_file = !tls_ca_file.empty() ? tls_ca_file : Env("TESSERA_TLS_CA_FILE");
  options->tls = tls || Env("TESSERA_TLS") == "1";
  if (!credentials_file.empty()) {
    if (!PickKeys(ReadEnvFile(credentials_file), options)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "no credentials in ", credentials_file,
          " (expected TESSERA_ACCESS_KEY_ID= and TESSERA_SECRET_ACCESS_KEY= lines, or the AWS_ "
          "ones)"));
    }
    return absl::OkStatus();
  }
  std::map<std::string, std::string> env;
  for (const char* name : {"TESSERA_ACCESS_KEY_ID", "TESSERA_SECRET_ACCESS_KEY",
                           "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}) {
    env[name] = Env(name);
  }
  if (PickKeys(env, options)) return absl::OkStatus();
  if (const std::string path = DevEnvPath(); !path.empty()) {
    std::map<std::string, std::string> dev = ReadEnvFile(path);
    if (auto it = dev.find("TESSERA_CREDENTIALS_FILE"); it != dev.end() && !it->second.empty()) {
      (void)PickKeys(ReadEnvFile(it->second), options);
    }
  }
  return absl::OkStatus();
}

int RunCommand(const std::string& endpoint, const sdk::ClientOptions& options,
               const std::string& client_key_file, const std::vector<std::string>& command_line) {
  // `mb` takes --acl=CANNED (S3's x-amz-acl values; the gateway decides which it supports).
  std::vector<std::string> args;
  std::optional<std::string> acl;
  bool json = false;  // `cluster status --json`
  for (size_t i = 0; i < command_line.size(); ++i) {
    const std::string& a = command_line[i];
    if (!command_line.empty() && command_line[0] == "cluster" && a == "--json") {
      json = true;
      continue;
    }
    if (!command_line.empty() && command_line[0] == "mb" && absl::StartsWith(a, "--acl")) {
      if (absl::StartsWith(a, "--acl=")) {
        acl = a.substr(6);
      } else if (a == "--acl" && i + 1 < command_line.size()) {
        acl = command_line[++i];
      } else {
        return UsageError("--acl needs a value, e.g. --acl=public-read");
      }
      continue;
    }
    args.push_back(a);
  }
  const std::string& cmd = args[0];
  const size_t n = args.size() - 1;
  // Validate the command line before connecting.
  static const std::map<std::string, std::pair<size_t, size_t>> kArity = {
      {"mb", {1, 1}},  {"rb", {1, 1}}, {"ls", {0, 1}},   {"put", {2, 2}},
      {"get", {2, 2}}, {"rm", {1, 1}}, {"stat", {1, 1}}, {"cluster", {1, 1}},
  };
  auto arity = kArity.find(cmd);
  if (arity == kArity.end()) return UsageError(absl::StrCat("unknown command \"", cmd, "\""));
  if (n < arity->second.first || n > arity->second.second) {
    return UsageError(absl::StrCat("wrong number of arguments for `", cmd, "`"));
  }
  if (cmd == "cluster" && args[1] != "status") {
    return UsageError(absl::StrCat("unknown cluster command \"", args[1], "\""));
  }
  std::string bucket, key;
  if (cmd == "put" && !SplitPath(args[2], true, &bucket, &key)) {
    return UsageError(absl::StrCat("expected BUCKET/KEY, got \"", args[2], "\""));
  }
  if ((cmd == "get" || cmd == "rm" || cmd == "stat") && !SplitPath(args[1], true, &bucket, &key)) {
    return UsageError(absl::StrCat("expected BUCKET/KEY, got \"", args[1], "\""));
  }

  if (options.access_key_id.empty()) {
    missing_credentials_hint =
        "the CLI found no credentials: set TESSERA_ACCESS_KEY_ID and TESSERA_SECRET_ACCESS_KEY, "
        "pass --credentials_file, or run `tessera dev` for a local cluster";
  }
  absl::StatusOr<std::unique_ptr<sdk::Client>> client = sdk::Client::Connect(endpoint, options);
  if (!client.ok()) return Fail(client.status());
  // Object commands go through the ObjectClient interface: the gateway client itself, or the
  // end-to-end sealing client over it.
  std::unique_ptr<sdk::EmbeddedClient> sealed;
  if (!client_key_file.empty()) {
    sdk::EmbeddedClientOptions eo;
    eo.gateway = client->get();
    eo.client_key_file = client_key_file;
    absl::StatusOr<std::unique_ptr<sdk::EmbeddedClient>> opened = sdk::EmbeddedClient::Open(eo);
    if (!opened.ok()) return Fail(opened.status());
    sealed = *std::move(opened);
  }
  sdk::ObjectClient& c = sealed != nullptr ? static_cast<sdk::ObjectClient&>(*sealed)
                                           : static_cast<sdk::ObjectClient&>(**client);

  if (cmd == "mb") {
    sdk::CreateBucketOptions bucket_options;
    if (acl.has_value()) bucket_options.acl = *acl;
    absl::StatusOr<sdk::Bucket> b = c.CreateBucket(args[1], bucket_options);
    if (!b.ok()) return Fail(b.status());
    std::printf("created bucket %s (%s)\n", args[1].c_str(),
                b->acl.empty() ? "private" : b->acl.c_str());
    return kExitOk;
  }
  if (cmd == "rb") {
    if (absl::Status s = c.DeleteBucket(args[1]); !s.ok()) return Fail(s);
    std::printf("removed bucket %s\n", args[1].c_str());
    return kExitOk;
  }
  if (cmd == "ls") {
    if (n == 0) {
      absl::StatusOr<std::vector<sdk::Bucket>> buckets = c.ListBuckets();
      if (!buckets.ok()) return Fail(buckets.status());
      for (const sdk::Bucket& b : *buckets) {
        std::printf("%s  %s\n", Time(b.created).c_str(), b.name.c_str());
      }
      return kExitOk;
    }
    std::string prefix;
    SplitPath(args[1], false, &bucket, &prefix);
    if (bucket.empty()) return UsageError("expected BUCKET[/PREFIX]");
    sdk::ListOptions lo;
    lo.prefix = prefix;
    lo.delimiter = "/";
    absl::Status s = c.ListAllObjects(
        bucket, lo,
        [](const sdk::ObjectInfo& o) {
          std::printf("%s  %12llu  %s\n", Time(o.modified).c_str(),
                      static_cast<unsigned long long>(o.size), o.key.c_str());
          return absl::OkStatus();
        },
        [](const std::string& p) {
          std::printf("%19s  %12s  %s\n", "", "PRE", p.c_str());
          return absl::OkStatus();
        });
    return s.ok() ? kExitOk : Fail(s);
  }
  if (cmd == "put") {
    ProgressBar bar(Interactive());
    sdk::PutOptions po;
    po.progress = [&bar](uint64_t done, int64_t total) { bar.Update(done, total); };
    absl::StatusOr<sdk::ObjectInfo> info;
    if (args[1] == "-") {
      sdk::ReaderFn reader = [](char* buf, size_t cap) -> absl::StatusOr<size_t> {
        const size_t got = std::fread(buf, 1, cap, stdin);
        if (got == 0 && std::ferror(stdin)) return absl::DataLossError("cannot read stdin");
        return got;
      };
      info = c.PutObjectFromReader(bucket, key, reader, -1, po);
    } else {
      info = c.PutObjectFromFile(bucket, key, args[1], po);
    }
    bar.Done();
    if (!info.ok()) return Fail(info.status());
    std::printf("put %s/%s (%llu bytes, etag %s)\n", bucket.c_str(), key.c_str(),
                static_cast<unsigned long long>(info->size), info->etag.c_str());
    return kExitOk;
  }
  if (cmd == "get") {
    ProgressBar bar(Interactive() && args[2] != "-");
    sdk::GetOptions go;
    go.progress = [&bar](uint64_t done, int64_t total) { bar.Update(done, total); };
    absl::StatusOr<sdk::ObjectInfo> info;
    if (args[2] == "-") {
      info = c.GetObjectToSink(
          bucket, key,
          [](absl::string_view d) -> absl::Status {
            if (std::fwrite(d.data(), 1, d.size(), stdout) != d.size()) {
              return absl::DataLossError("cannot write to stdout");
            }
            return absl::OkStatus();
          },
          go);
      std::fflush(stdout);
    } else {
      info = c.GetObjectToFile(bucket, key, args[2], go);
    }
    bar.Done();
    if (!info.ok()) return Fail(info.status());
    if (args[2] != "-") {
      std::printf("got %s/%s -> %s (%llu bytes)\n", bucket.c_str(), key.c_str(), args[2].c_str(),
                  static_cast<unsigned long long>(info->size));
    }
    return kExitOk;
  }
  if (cmd == "rm") {
    if (absl::Status s = c.DeleteObject(bucket, key); !s.ok()) return Fail(s);
    std::printf("removed %s/%s\n", bucket.c_str(), key.c_str());
    return kExitOk;
  }
  if (cmd == "stat") {
    absl::StatusOr<sdk::ObjectInfo> o = c.HeadObject(bucket, key);
    if (!o.ok()) return Fail(o.status());
    std::printf(
        "bucket:        %s\nkey:           %s\nsize:          %llu (%s)\n"
        "etag:          %s\nmodified:      %s\ncontent-type:  %s\ndegraded:      %s\n",
        o->bucket.c_str(), o->key.c_str(), static_cast<unsigned long long>(o->size),
        sdk::FormatBytes(o->size).c_str(), o->etag.c_str(), Time(o->modified).c_str(),
        o->content_type.empty() ? "-" : o->content_type.c_str(),
        o->degraded ? "yes (repair pending)" : "no");
    for (const auto& [k, v] : o->user_metadata) {
      std::printf("meta:          %s=%s\n", k.c_str(), v.c_str());
    }
    return kExitOk;
  }
  // cluster status
  absl::StatusOr<sdk::ClusterStatus> st = (*client)->GetClusterStatus();
  if (!st.ok()) return Fail(st.status());
  const std::string report =
      json ? ClusterStatusJson(endpoint, *st) : FormatClusterStatus(endpoint, *st);
  std::fputs(report.c_str(), stdout);
  return kExitOk;
}

}  // namespace tessera::cli
