// Layout records: the replicated, consensus-decided metadata layout (docs/design/metadata.md,
// "Consensus layouts").
//
// The cluster's layout is one metadata key, LayoutRecordKey() (table META_TABLE_LAYOUT, partition
// 0; hand-off scans never copy that table), whose value is a serialized LayoutRecord:
// (epoch, members, and during a transition the previous epoch's members). The record is
// replicated on EVERY member of the layout it describes, with majority quorums; during a
// transition on every member of the old and of the new member list, with a majority in each.
// It changes only by compare-and-set from epoch e to e + 1, so two proposers can never decide
// different layouts with the same epoch, and a new epoch needs a majority of the members of the
// previous one (a reader that follows records from any member list reaches the newest).
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "api/metadata.pb.h"
#include "services/meta/layout.h"

namespace tessera::services {

// The key of the layout record.
tessera::v1::MetaKey LayoutRecordKey();

// The replica view the record itself lives on: one set = every member of `record` (plus, in a
// transition, a second set = the previous members), each with majority quorums.
[[nodiscard]] absl::StatusOr<LayoutView> LayoutRecordView(const tessera::v1::LayoutRecord& record);
// The same for a bare member list (bootstrapping: no record yet).
[[nodiscard]] absl::StatusOr<LayoutView> MemberSetView(const std::vector<MetaMember>& members);
// One set of every member with W = N (R = 1): the view the first record (epoch 1) is created on.
// Two bootstrappers whose member lists share any one node cannot both create a record (their
// quorums intersect there), even when their majorities would not.
[[nodiscard]] absl::StatusOr<LayoutView> UnanimousMemberSetView(
    const std::vector<MetaMember>& members);

// The data layout view the record describes: Layout::Compute(epoch, members, options of the
// record); in a transition, LayoutView::Transition(previous, current).
[[nodiscard]] absl::StatusOr<LayoutView> DataLayoutView(const tessera::v1::LayoutRecord& record);

// A record (not in transition) for `members` at `epoch` with `options`; members sorted by id.
tessera::v1::LayoutRecord MakeLayoutRecord(uint64_t epoch, std::vector<MetaMember> members,
                                           const LayoutOptions& options);
std::vector<MetaMember> RecordMembers(const tessera::v1::LayoutRecord& record);
std::vector<MetaMember> RecordPreviousMembers(const tessera::v1::LayoutRecord& record);
LayoutOptions RecordOptions(const tessera::v1::LayoutRecord& record);
// True when both lists name the same (node id, site, address) set.
bool SameMembers(std::vector<MetaMember> a, std::vector<MetaMember> b);

}  // namespace tessera::services
