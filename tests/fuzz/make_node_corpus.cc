// Writes the seed corpus of the node fuzz targets (tests/fuzz/corpus/{gossip,slice_records,
// node_rpc}/) from the real encoders, so the seeds are valid messages the fuzzers mutate from:
//   bazel run //tests/fuzz:make_node_corpus -- "$PWD/tests/fuzz/corpus"
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "api/node.pb.h"
#include "p2p/identity/node_identity.h"
#include "p2p/membership/protocol.h"
#include "storage/index/index_entry.h"
#include "storage/slice/crc32c.h"
#include "storage/slice/slice_format.h"

namespace {

void Write(const std::filesystem::path& dir, const std::string& name, const std::string& bytes) {
  std::filesystem::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << bytes;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_node_corpus CORPUS_DIR\n");
    return 2;
  }
  const std::filesystem::path root = argv[1];
  using namespace tessera;

  // Gossip: what real nodes send (a join Sync, then probes after the join is answered).
  auto a = p2p::NodeIdentity::Generate();
  auto b = p2p::NodeIdentity::Generate();
  if (!a.ok() || !b.ok()) return 1;
  p2p::MembershipOptions options;
  p2p::LocalMember ma, mb;
  ma.gossip_address = "127.0.0.1:7001";
  ma.grpc_address = "127.0.0.1:7101";
  mb.gossip_address = "127.0.0.1:7002";
  mb.grpc_address = "127.0.0.1:7102";
  const absl::Time t0 = absl::FromUnixSeconds(1800000000);
  auto pa = p2p::MembershipProtocol::Create(options, a->get(), ma, {"127.0.0.1:7002"}, t0);
  auto pb = p2p::MembershipProtocol::Create(options, b->get(), mb, {}, t0);
  if (!pa.ok() || !pb.ok()) return 1;
  int n = 0;
  std::vector<p2p::Outgoing> to_b = (*pa)->Tick(t0);
  for (int round = 0; round < 3; ++round) {
    std::vector<p2p::Outgoing> to_a;
    for (const auto& o : to_b) {
      Write(root / "gossip", absl::StrCat("seed", n++), o.payload);
      for (auto& r : (*pb)->HandleMessage(t0, ma.gossip_address, o.payload)) to_a.push_back(r);
    }
    to_b.clear();
    for (const auto& o : to_a) {
      Write(root / "gossip", absl::StrCat("seed", n++), o.payload);
      for (auto& r : (*pa)->HandleMessage(t0, mb.gossip_address, o.payload)) to_b.push_back(r);
    }
    for (auto& r : (*pa)->Tick(t0 + absl::Seconds(round + 1))) to_b.push_back(r);
  }

  // Slice-file headers and index entries ("\0" + header, "\1" + entry).
  storage::slice::SliceHeader h;
  h.length = 12345;
  h.id = std::string(32, 'i');
  Write(root / "slice_records", "header", std::string(1, '\0') + storage::slice::EncodeHeader(h));
  storage::IndexEntry file;
  file.dir_index = 1;
  file.file_name = "ab/cdef.slice";
  file.length = 200000;
  file.crc32c = 77;
  file.block_size = 65536;
  file.block_crcs = {1, 2, 3, 4};
  file.created_micros = 1800000000000000;
  Write(root / "slice_records", "file_entry",
        std::string(1, '\1') + storage::EncodeIndexEntry(file));
  storage::IndexEntry small;
  small.is_inline = true;
  small.inline_data = "tiny slice";
  small.length = small.inline_data.size();
  Write(root / "slice_records", "inline_entry",
        std::string(1, '\1') + storage::EncodeIndexEntry(small));

  // Node RPCs: kind byte, message-count byte, then the serialized request(s).
  v1::SliceId id;
  id.set_version_id(std::string(16, 'v'));
  id.set_part(1);
  id.set_stripe(2);
  id.set_index(3);
  v1::PutSliceRequest put;
  *put.mutable_id() = id;
  put.set_length(5);
  put.set_crc32c(storage::crc32c::Value("hello"));
  put.set_data("hello");
  Write(root / "node_rpc", "put", std::string("\0\0", 2) + put.SerializeAsString());
  v1::GetSliceRequest get;
  *get.mutable_id() = id;
  Write(root / "node_rpc", "get", std::string("\1\0", 2) + get.SerializeAsString());
  v1::StatSliceRequest stat;
  *stat.mutable_id() = id;
  Write(root / "node_rpc", "stat", std::string("\3\0", 2) + stat.SerializeAsString());
  v1::ListSlicesRequest list;
  list.set_page_size(10);
  Write(root / "node_rpc", "list", std::string("\4\0", 2) + list.SerializeAsString());
  std::printf("wrote %d gossip seeds and the record and RPC seeds under %s\n", n,
              root.string().c_str());
  return 0;
}
