// FuzzNodeRpc (node_fuzz_targets.h): slice RPC requests into a SliceServiceCore over a fake
// store. Kept apart from the other node targets because it pulls in the slice store (RocksDB),
// which run_fuzzers.sh does not build; fuzz_corpus_test runs it in every build.
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "api/node.pb.h"
#include "services/node/fake_slice_store.h"
#include "services/node/slice_service_core.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/fuzz/node_fuzz_targets.h"

namespace tessera::fuzz {

int FuzzNodeRpc(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  services::testing::FakeSliceStore store(1 << 20);
  services::SliceServiceOptions options;
  options.max_slice_bytes = 1 << 20;
  options.chunk_bytes = 4096;
  options.max_buffered_put_bytes = 4 << 20;
  services::SliceServiceCore core(&store, options, services::NodeDescription{"node", "", {}, "1"});
  const uint8_t kind = data[0] % 6;
  const int pieces = 1 + (data[1] & 3);
  const absl::string_view rest = Bytes(data + 2, size - 2);
  std::vector<absl::string_view> parts;
  const size_t step = rest.size() / pieces + 1;
  for (size_t at = 0; at < rest.size(); at += step) parts.push_back(rest.substr(at, step));
  if (parts.empty()) parts.push_back(rest);
  switch (kind) {
    case 0: {  // PutSlice, then read back what was stored
      auto stream = core.NewPutStream();
      std::optional<v1::SliceId> id;
      std::string sent;
      bool ok = true;
      for (absl::string_view p : parts) {
        v1::PutSliceRequest req;
        if (!req.ParseFromArray(p.data(), static_cast<int>(p.size()))) return 0;
        if (!id.has_value()) id = req.id();  // the first message names the slice
        sent += req.data();
        if (!stream->Add(req).ok()) {
          ok = false;
          break;
        }
      }
      if (!ok || !stream->Finish().ok() || !id.has_value()) return 0;
      v1::GetSliceRequest get;
      *get.mutable_id() = *id;
      auto reader = core.OpenGet(get);
      Check(reader.ok());
      std::string got;
      for (;;) {
        auto next = (*reader)->Next();
        Check(next.ok());
        if (!next->has_value()) break;
        got += (*next)->data();
      }
      Check(got == sent);
      break;
    }
    case 1: {
      v1::GetSliceRequest req;
      if (!req.ParseFromArray(rest.data(), static_cast<int>(rest.size()))) return 0;
      auto reader = core.OpenGet(req);
      if (!reader.ok()) return 0;
      for (int i = 0; i < 64; ++i) {
        auto next = (*reader)->Next();
        if (!next.ok() || !next->has_value()) break;
      }
      break;
    }
    case 2: {
      v1::DeleteSliceRequest req;
      if (req.ParseFromArray(rest.data(), static_cast<int>(rest.size()))) (void)core.Delete(req);
      break;
    }
    case 3: {
      v1::StatSliceRequest req;
      if (req.ParseFromArray(rest.data(), static_cast<int>(rest.size()))) (void)core.Stat(req);
      break;
    }
    case 4: {
      v1::ListSlicesRequest req;
      if (req.ParseFromArray(rest.data(), static_cast<int>(rest.size()))) {
        auto page = core.List(req);
        if (page.ok()) Check(page->slices_size() <= static_cast<int>(options.max_page_size));
      }
      break;
    }
    default: {
      v1::NodeInfoRequest req;
      if (req.ParseFromArray(rest.data(), static_cast<int>(rest.size()))) (void)core.NodeInfo(req);
      break;
    }
  }
  return 0;
}

}  // namespace tessera::fuzz
