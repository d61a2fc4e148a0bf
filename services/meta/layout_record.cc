#include "services/meta/layout_record.h"

#include <algorithm>
#include <tuple>
#include <utility>

namespace tessera::services {
namespace {

void SortMembers(std::vector<MetaMember>* members) {
  std::sort(members->begin(), members->end(),
            [](const MetaMember& a, const MetaMember& b) { return a.node_id < b.node_id; });
}

std::vector<MetaMember> FromProto(
    const google::protobuf::RepeatedPtrField<tessera::v1::LayoutMember>& in) {
  std::vector<MetaMember> out;
  for (const auto& m : in) out.push_back(MetaMember{m.node_id(), m.site(), m.address()});
  return out;
}

// One partition, one set of all members, majority write quorum.
absl::StatusOr<Layout> AllMembers(uint64_t epoch, const std::vector<MetaMember>& members) {
  LayoutOptions o;
  o.partitions = 1;
  o.replicas = static_cast<uint32_t>(std::max<size_t>(members.size(), 1));
  o.write_quorum = o.replicas / 2 + 1;
  o.read_quorum = o.replicas - o.write_quorum + 1;
  return Layout::Compute(epoch, members, o);
}

}  // namespace

absl::StatusOr<LayoutView> UnanimousMemberSetView(const std::vector<MetaMember>& members) {
  LayoutOptions o;
  o.partitions = 1;
  o.replicas = static_cast<uint32_t>(std::max<size_t>(members.size(), 1));
  o.write_quorum = o.replicas;
  o.read_quorum = 1;
  absl::StatusOr<Layout> all = Layout::Compute(0, members, o);
  if (!all.ok()) return all.status();
  return LayoutView(*std::move(all));
}

tessera::v1::MetaKey LayoutRecordKey() {
  tessera::v1::MetaKey key;
  key.set_partition(0);  // of the one-partition record view
  key.set_table(tessera::v1::META_TABLE_LAYOUT);
  key.set_bucket("tessera.layout");
  return key;
}

absl::StatusOr<LayoutView> MemberSetView(const std::vector<MetaMember>& members) {
  absl::StatusOr<Layout> all = AllMembers(0, members);
  if (!all.ok()) return all.status();
  return LayoutView(*std::move(all));
}

absl::StatusOr<LayoutView> LayoutRecordView(const tessera::v1::LayoutRecord& record) {
  absl::StatusOr<Layout> cur = AllMembers(1, RecordMembers(record));
  if (!cur.ok()) return cur.status();
  if (!record.in_transition()) return LayoutView(*std::move(cur));
  absl::StatusOr<Layout> prev = AllMembers(0, RecordPreviousMembers(record));
  if (!prev.ok()) return prev.status();
  return LayoutView::Transition(*std::move(prev), *std::move(cur));
}

absl::StatusOr<LayoutView> DataLayoutView(const tessera::v1::LayoutRecord& record) {
  const LayoutOptions options = RecordOptions(record);
  absl::StatusOr<Layout> cur = Layout::Compute(record.epoch(), RecordMembers(record), options);
  if (!cur.ok()) return cur.status();
  absl::StatusOr<LayoutView> view = LayoutView(*cur);
  if (record.in_transition()) {
    absl::StatusOr<Layout> prev =
        Layout::Compute(record.previous_epoch(), RecordPreviousMembers(record), options);
    if (!prev.ok()) return prev.status();
    view = LayoutView::Transition(*std::move(prev), *std::move(cur));
    if (!view.ok()) return view.status();
  }
  view->set_epoch_decided(true);
  return view;
}

tessera::v1::LayoutRecord MakeLayoutRecord(uint64_t epoch, std::vector<MetaMember> members,
                                           const LayoutOptions& options) {
  SortMembers(&members);
  tessera::v1::LayoutRecord r;
  r.set_format_version(1);
  r.set_epoch(epoch);
  for (const MetaMember& m : members) {
    auto* p = r.add_members();
    p->set_node_id(m.node_id);
    p->set_site(m.site);
    p->set_address(m.address);
  }
  r.set_partitions(options.partitions);
  r.set_replicas(options.replicas);
  r.set_write_quorum(options.write_quorum);
  r.set_read_quorum(options.read_quorum);
  return r;
}

std::vector<MetaMember> RecordMembers(const tessera::v1::LayoutRecord& record) {
  return FromProto(record.members());
}

std::vector<MetaMember> RecordPreviousMembers(const tessera::v1::LayoutRecord& record) {
  return FromProto(record.previous_members());
}

LayoutOptions RecordOptions(const tessera::v1::LayoutRecord& record) {
  LayoutOptions o;
  o.partitions = record.partitions();
  o.replicas = record.replicas();
  o.write_quorum = record.write_quorum();
  o.read_quorum = record.read_quorum();
  return o;
}

bool SameMembers(std::vector<MetaMember> a, std::vector<MetaMember> b) {
  SortMembers(&a);
  SortMembers(&b);
  return std::equal(
      a.begin(), a.end(), b.begin(), b.end(), [](const MetaMember& x, const MetaMember& y) {
        return std::tie(x.node_id, x.site, x.address) == std::tie(y.node_id, y.site, y.address);
      });
}

}  // namespace tessera::services
