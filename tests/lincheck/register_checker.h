// Linearizability checker for histories of one key-value register (one metadata key): the
// Wing & Gong search with Lowe's memoization (as Porcupine and Knossos' "linear" checker do),
// over bounded histories of concurrent GET, PUT, DELETE and CAS operations.
//
// A history is what concurrent clients observed: for every operation its invocation and
// response times (any monotonic clock shared by the clients, e.g. absl::Now() in one test
// process), its input and its outcome. An operation whose outcome is unknown (the call failed
// in a way that may or may not have applied it: IsOutcomeUnknown) is given with `unknown = true`:
// it may take effect at any point after its invocation, or never (its response time is taken as
// infinite, and nothing observes it after the end of the history). An operation that failed
// definitely (applied nowhere) must be left out by the caller, or recorded as a CAS with
// ok = false when the failure was the CAS's own "current value differs" refusal.
//
// The register's value is std::optional<std::string>: nullopt = absent (never written or
// deleted).
//   GET         -> observed value (nullopt: absent)
//   PUT(v)      -> value := v
//   DELETE      -> value := nullopt
//   CAS(e, v)   -> if value == e: value := v, ok = true; else unchanged, ok = false
//                  (v = nullopt deletes; e = nullopt means "if absent").
//
// Check() answers kLinearizable, kNotLinearizable (no order of the operations respects both
// real time and the register's semantics), or kUnknown when the search exceeded `max_steps`
// (bounded so a pathological history cannot hang a test).
//
// Thread-safety: stateless functions; a History is a plain value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tessera::testing::lincheck {

using Value = std::optional<std::string>;

enum class OpKind { kGet, kPut, kDelete, kCas };

struct Op {
  OpKind kind = OpKind::kGet;
  int64_t call = 0;      // invocation time
  int64_t ret = 0;       // response time (ignored when unknown)
  bool unknown = false;  // outcome unknown: may have applied (once) or not
  Value expected;        // CAS: the value it required
  Value value;           // PUT / CAS: the value written; GET: the value observed
  bool ok = true;        // CAS: whether it applied (ignored when unknown)
  int client = 0;        // for messages only
};

enum class Verdict { kLinearizable, kNotLinearizable, kUnknown };

struct CheckResult {
  Verdict verdict = Verdict::kUnknown;
  uint64_t steps = 0;
  // When not linearizable: the longest prefix (in operations linearized) the search found, as
  // a readable trace, and the operations it could not place next.
  std::string explanation;
};

struct CheckOptions {
  uint64_t max_steps = 20'000'000;
  Value initial = std::nullopt;
};

CheckResult Check(const std::vector<Op>& history, const CheckOptions& options = {});

// One line describing `op` ("c3 CAS(a->b)=ok [12,40]").
std::string Describe(const Op& op);

// Convenience constructors for tests.
Op Get(int64_t call, int64_t ret, Value observed, int client = 0);
Op Put(int64_t call, int64_t ret, std::string v, int client = 0);
Op Delete(int64_t call, int64_t ret, int client = 0);
Op Cas(int64_t call, int64_t ret, Value expected, Value v, bool ok, int client = 0);
// The same operation with an unknown outcome (its response time is ignored).
Op Unknown(Op op);

}  // namespace tessera::testing::lincheck
