#include "services/cli/admin.h"

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "api/sdk/embedded_client.h"
#include "services/cli/commands.h"
#include "services/meta/acceptor_store.h"
#include "services/object/key_rotation.h"
#include "services/object/object_backend.h"
#include "storage/crypto/key_file.h"

namespace tessera::cli {

const char kAdminUsage[] =
    "Keys and maintenance (run where the files are; admin talks to the storage nodes):\n"
    "  keys add FILE             add a fresh master key to key FILE and make it active\n"
    "  keys retire FILE KEY_ID   remove an old (non-active) master key from key FILE\n"
    "  keys new-client FILE      create a client key for end-to-end sealing (--client_key_file);\n"
    "                            back it up: what is put with it is unreadable without it\n"
    "  admin rotate-master-key --seeds=HOST:PORT,... --master_key_file=FILE\n"
    "      [--cluster_secret_file=FILE | --insecure_no_auth] [--k=4] [--m=2] [--dry_run]\n"
    "                            rewrap every object's data key under FILE's active key (no\n"
    "                            data is rewritten); exits 1 while any stays under an old key\n"
    "  admin backup-meta --meta_dir=NODE_DATA_DIR/meta --to=DIR\n"
    "                            consistent copy of a STOPPED node's metadata store into new DIR\n"
    "  admin restore-meta --from=DIR --meta_dir=NODE_DATA_DIR/meta\n"
    "                            put a backup in place (node stopped, old store moved aside);\n"
    "                            read docs/design/metadata.md \"Backup and restore\" first\n";

namespace {

int RotateMasterKey(const std::vector<std::string>& args) {
  services::ObjectBackendOptions o;
  // A maintenance client: no layout proposals, no space reclamation.
  o.layout_maintainer.run_thread = false;
  o.caller_id = "tessera-admin";
  o.data_path_threads = 2;
  services::MasterKeyRotationOptions rotation;
  for (size_t i = 2; i < args.size(); ++i) {
    std::string v;
    int n = 0;
    if (FlagEquals(args[i], "seeds", &v)) {
      o.seeds = absl::StrSplit(v, ',', absl::SkipEmpty());
    } else if (FlagEquals(args[i], "master_key_file", &v)) {
      o.master_key_file = v;
    } else if (FlagEquals(args[i], "cluster_secret_file", &v)) {
      o.cluster_secret_file = v;
    } else if (args[i] == "--insecure_no_auth") {
      o.insecure_no_auth = true;
    } else if (FlagEquals(args[i], "k", &v) && absl::SimpleAtoi(v, &n)) {
      o.data.data_shards = n;
    } else if (FlagEquals(args[i], "m", &v) && absl::SimpleAtoi(v, &n)) {
      o.data.parity_shards = n;
    } else if (args[i] == "--dry_run") {
      rotation.dry_run = true;
    } else {
      return UsageError(
          absl::StrCat("admin rotate-master-key: bad or unknown flag \"", args[i], "\""));
    }
  }
  if (o.seeds.empty() || o.master_key_file.empty()) {
    return UsageError("admin rotate-master-key needs --seeds and --master_key_file");
  }
  absl::StatusOr<std::unique_ptr<storage::MasterKeyring>> ring =
      storage::LoadMasterKeyFile(o.master_key_file);
  if (!ring.ok()) {
    PrintError(std::string(ring.status().message()));
    return kExitError;
  }
  o.keyring = ring->get();
  absl::StatusOr<std::unique_ptr<services::ObjectBackend>> backend = services::OpenObjectBackend(o);
  if (!backend.ok()) {
    PrintError(absl::StrCat("cannot reach the cluster: ", backend.status().ToString()));
    return kExitError;
  }
  absl::StatusOr<services::MasterKeyRotationStats> stats =
      services::RewrapMasterKeys((*backend)->store(), **ring, rotation);
  if (!stats.ok()) {
    PrintError(absl::StrCat("rotation pass failed: ", stats.status().ToString()));
    return kExitError;
  }
  std::string line =
      absl::StrCat("active key ", stats->active_key_id, ": ", stats->versions_scanned,
                   " entries scanned, ", stats->rewrapped, " rewrapped, ", stats->current,
                   " already current, ", stats->skipped, " skipped (delete markers, client keys), ",
                   stats->vanished, " removed meanwhile, ", stats->failed, " failed");
  if (rotation.dry_run) absl::StrAppend(&line, ", ", stats->remaining, " to rewrap (dry run)");
  std::printf("%s\n", line.c_str());
  if (stats->failed > 0) {
    PrintError(absl::StrCat("not rewrapped: ", stats->first_error,
                            " (keep the old keys; fix and run again)"));
  }
  return stats->failed > 0 || stats->remaining > 0 ? kExitError : kExitOk;
}

// backup-meta / restore-meta: both need the node stopped (its RocksDB lock refuses a second
// opener, so a running node makes backup-meta fail rather than copy a moving store).
int BackupOrRestoreMeta(const std::vector<std::string>& args) {
  const bool backup = args[1] == "backup-meta";
  std::string meta_dir, other;
  for (size_t i = 2; i < args.size(); ++i) {
    std::string v;
    if (FlagEquals(args[i], "meta_dir", &v)) {
      meta_dir = v;
    } else if (FlagEquals(args[i], backup ? "to" : "from", &v)) {
      other = v;
    } else {
      return UsageError(absl::StrCat("admin ", args[1], ": bad or unknown flag \"", args[i], "\""));
    }
  }
  if (meta_dir.empty() || other.empty()) {
    return UsageError(
        absl::StrCat("admin ", args[1], " needs --meta_dir and ", backup ? "--to" : "--from"));
  }
  absl::Status s;
  if (backup) {
    std::error_code ec;
    if (!std::filesystem::is_directory(meta_dir, ec)) {
      PrintError(absl::StrCat("no metadata store directory ", meta_dir));
      return kExitError;
    }
    absl::StatusOr<std::unique_ptr<services::AcceptorStore>> store =
        services::AcceptorStore::Open(meta_dir);
    s = store.ok() ? (*store)->Backup(other) : store.status();
  } else {
    s = services::AcceptorStore::RestoreBackup(other, meta_dir);
  }
  if (!s.ok()) {
    PrintError(std::string(s.message()));
    return kExitError;
  }
  std::printf(backup ? "metadata of %s backed up to %s\n" : "metadata restored to %s from %s\n",
              meta_dir.c_str(), other.c_str());
  return kExitOk;
}

}  // namespace

int RunKeysCommand(const std::vector<std::string>& args) {
  if (args.size() == 3 && args[1] == "add") {
    absl::StatusOr<storage::MasterKeyId> id = storage::AddMasterKeyToFile(args[2]);
    if (!id.ok()) {
      PrintError(std::string(id.status().message()));
      return kExitError;
    }
    std::printf(
        "added master key %u to %s; it is now active.\n"
        "Next: copy the file to every gateway and restart them, then run "
        "`tessera admin rotate-master-key`.\n",
        *id, args[2].c_str());
    return kExitOk;
  }
  if (args.size() == 3 && args[1] == "new-client") {
    if (absl::Status s = sdk::GenerateClientKeyFile(args[2]); !s.ok()) {
      PrintError(std::string(s.message()));
      return kExitError;
    }
    std::printf(
        "created client key %s (mode 0600). Back it up: objects put with "
        "--client_key_file=%s cannot be read without it.\n",
        args[2].c_str(), args[2].c_str());
    return kExitOk;
  }
  storage::MasterKeyId id = 0;
  if (args.size() == 4 && args[1] == "retire" && absl::SimpleAtoi(args[3], &id)) {
    if (absl::Status s = storage::RetireMasterKeyFromFile(args[2], id); !s.ok()) {
      PrintError(std::string(s.message()));
      return kExitError;
    }
    std::printf("removed master key %u from %s\n", id, args[2].c_str());
    return kExitOk;
  }
  return UsageError(
      "usage: tessera keys add FILE | tessera keys retire FILE KEY_ID | tessera keys new-client "
      "FILE");
}

int RunAdminCommand(const std::vector<std::string>& args) {
  if (args.size() >= 2 && args[1] == "rotate-master-key") return RotateMasterKey(args);
  if (args.size() >= 2 && (args[1] == "backup-meta" || args[1] == "restore-meta")) {
    return BackupOrRestoreMeta(args);
  }
  return UsageError("usage: tessera admin rotate-master-key | backup-meta | restore-meta ...");
}

}  // namespace tessera::cli
