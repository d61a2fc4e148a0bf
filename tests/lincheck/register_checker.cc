#include "tests/lincheck/register_checker.h"

#include <algorithm>
#include <limits>
#include <unordered_set>

#include "absl/strings/str_cat.h"

namespace tessera::testing::lincheck {
namespace {

std::string ValueString(const Value& v) { return v ? absl::StrCat("\"", *v, "\"") : "absent"; }

// One event of the doubly linked list Lowe's algorithm walks: a call or a return of op `op`.
struct Entry {
  int op = 0;
  bool is_call = true;
  int64_t time = 0;
  Entry* match = nullptr;  // call -> its return
  Entry* prev = nullptr;
  Entry* next = nullptr;
};

// Applies `op` to `state`: false when the op's observed outcome is impossible from `state`.
bool Step(const Op& op, Value* state) {
  switch (op.kind) {
    case OpKind::kGet:
      return op.unknown || *state == op.value;
    case OpKind::kPut:
      *state = op.value;
      return true;
    case OpKind::kDelete:
      *state = std::nullopt;
      return true;
    case OpKind::kCas: {
      const bool matches = *state == op.expected;
      if (op.unknown) {
        if (matches) *state = op.value;
        return true;
      }
      if (op.ok != matches) return false;
      if (matches) *state = op.value;
      return true;
    }
  }
  return false;
}

void Lift(Entry* call) {
  call->prev->next = call->next;
  if (call->next != nullptr) call->next->prev = call->prev;
  Entry* ret = call->match;
  ret->prev->next = ret->next;
  if (ret->next != nullptr) ret->next->prev = ret->prev;
}

void Unlift(Entry* call) {
  Entry* ret = call->match;
  ret->prev->next = ret;
  if (ret->next != nullptr) ret->next->prev = ret;
  call->prev->next = call;
  if (call->next != nullptr) call->next->prev = call;
}

std::string CacheKey(const std::vector<uint64_t>& bits, const Value& state) {
  std::string key(reinterpret_cast<const char*>(bits.data()), bits.size() * sizeof(uint64_t));
  if (state) {
    key.push_back('\1');
    key.append(*state);
  } else {
    key.push_back('\0');
  }
  return key;
}

}  // namespace

std::string Describe(const Op& op) {
  std::string what;
  switch (op.kind) {
    case OpKind::kGet:
      what = absl::StrCat("GET=", op.unknown ? "?" : ValueString(op.value));
      break;
    case OpKind::kPut:
      what = absl::StrCat("PUT(", ValueString(op.value), ")");
      break;
    case OpKind::kDelete:
      what = "DELETE";
      break;
    case OpKind::kCas:
      what = absl::StrCat("CAS(", ValueString(op.expected), "->", ValueString(op.value),
                          ")=", op.unknown ? "?" : (op.ok ? "ok" : "refused"));
      break;
  }
  return absl::StrCat("c", op.client, " ", what, " [", op.call, ",",
                      op.unknown ? std::string("inf") : absl::StrCat(op.ret), "]");
}

CheckResult Check(const std::vector<Op>& history, const CheckOptions& options) {
  CheckResult result;
  const int n = static_cast<int>(history.size());
  // Two events per op; a sentinel head.
  std::vector<Entry> events(2 * n);
  for (int i = 0; i < n; ++i) {
    Entry& c = events[2 * i];
    Entry& r = events[2 * i + 1];
    c.op = r.op = i;
    c.is_call = true;
    r.is_call = false;
    c.time = history[i].call;
    r.time = history[i].unknown ? std::numeric_limits<int64_t>::max()
                                : std::max(history[i].ret, history[i].call);
    c.match = &r;
  }
  std::vector<Entry*> order;
  order.reserve(events.size());
  for (Entry& e : events) order.push_back(&e);
  // Calls before returns at equal times: operations that touch at an instant count as
  // concurrent (the permissive reading).
  std::stable_sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) {
    if (a->time != b->time) return a->time < b->time;
    return a->is_call && !b->is_call;
  });
  Entry head;
  Entry* prev = &head;
  for (Entry* e : order) {
    prev->next = e;
    e->prev = prev;
    prev = e;
  }

  std::vector<uint64_t> bits((n + 63) / 64, 0);
  std::unordered_set<std::string> cache;
  struct Frame {
    Entry* call;
    Value state;
  };
  std::vector<Frame> stack;
  std::vector<int> longest;
  Value state = options.initial;
  Entry* entry = head.next;
  while (head.next != nullptr) {
    if (++result.steps > options.max_steps) {
      result.verdict = Verdict::kUnknown;
      result.explanation = absl::StrCat("search exceeded ", options.max_steps, " steps");
      return result;
    }
    if (entry == nullptr) break;  // cannot happen: a return always precedes the list's end
    if (entry->is_call) {
      Value next_state = state;
      if (Step(history[entry->op], &next_state)) {
        bits[entry->op / 64] |= uint64_t{1} << (entry->op % 64);
        if (cache.insert(CacheKey(bits, next_state)).second) {
          stack.push_back(Frame{entry, state});
          state = std::move(next_state);
          Lift(entry);
          if (stack.size() > longest.size()) {
            longest.clear();
            for (const Frame& f : stack) longest.push_back(f.call->op);
          }
          entry = head.next;
          continue;
        }
        bits[entry->op / 64] &= ~(uint64_t{1} << (entry->op % 64));
      }
      entry = entry->next;
    } else {
      // A pending return: the op that returns here must have been linearized before it.
      if (stack.empty()) {
        result.verdict = Verdict::kNotLinearizable;
        std::string text = "longest linearizable prefix:\n";
        for (int op : longest) absl::StrAppend(&text, "  ", Describe(history[op]), "\n");
        absl::StrAppend(&text, "no operation can come next; among the rest:\n");
        std::vector<bool> placed(n, false);
        for (int op : longest) placed[op] = true;
        int shown = 0;
        for (Entry* e : order) {
          if (!e->is_call || placed[e->op]) continue;
          absl::StrAppend(&text, "  ", Describe(history[e->op]), "\n");
          if (++shown == 8) break;
        }
        result.explanation = std::move(text);
        return result;
      }
      Frame top = std::move(stack.back());
      stack.pop_back();
      state = std::move(top.state);
      bits[top.call->op / 64] &= ~(uint64_t{1} << (top.call->op % 64));
      Unlift(top.call);
      entry = top.call->next;
    }
  }
  result.verdict = Verdict::kLinearizable;
  return result;
}

Op Get(int64_t call, int64_t ret, Value observed, int client) {
  Op op;
  op.kind = OpKind::kGet;
  op.call = call;
  op.ret = ret;
  op.value = std::move(observed);
  op.client = client;
  return op;
}

Op Put(int64_t call, int64_t ret, std::string v, int client) {
  Op op;
  op.kind = OpKind::kPut;
  op.call = call;
  op.ret = ret;
  op.value = std::move(v);
  op.client = client;
  return op;
}

Op Delete(int64_t call, int64_t ret, int client) {
  Op op;
  op.kind = OpKind::kDelete;
  op.call = call;
  op.ret = ret;
  op.client = client;
  return op;
}

Op Cas(int64_t call, int64_t ret, Value expected, Value v, bool ok, int client) {
  Op op;
  op.kind = OpKind::kCas;
  op.call = call;
  op.ret = ret;
  op.expected = std::move(expected);
  op.value = std::move(v);
  op.ok = ok;
  op.client = client;
  return op;
}

Op Unknown(Op op) {
  op.unknown = true;
  return op;
}

}  // namespace tessera::testing::lincheck
