// Known linearizable and known non-linearizable register histories, including the classic ones
// from the linearizability literature (Herlihy & Wing's register examples, the new/old inversion
// Knossos and Porcupine demonstrate) and CAS and unknown-outcome cases.
#include "tests/lincheck/register_checker.h"

#include "gtest/gtest.h"

namespace tessera::testing::lincheck {
namespace {

Verdict V(const std::vector<Op>& h, Value initial = std::nullopt) {
  CheckOptions o;
  o.initial = std::move(initial);
  CheckResult r = Check(h, o);
  if (r.verdict == Verdict::kNotLinearizable) {
    EXPECT_FALSE(r.explanation.empty());
  }
  return r.verdict;
}

constexpr Verdict kYes = Verdict::kLinearizable;
constexpr Verdict kNo = Verdict::kNotLinearizable;

TEST(RegisterChecker, EmptyAndSequentialHistories) {
  EXPECT_EQ(V({}), kYes);
  EXPECT_EQ(V({Get(0, 1, std::nullopt)}), kYes);
  EXPECT_EQ(V({Get(0, 1, "x")}), kNo);  // nothing wrote x
  EXPECT_EQ(V({Put(0, 1, "a"), Get(2, 3, "a"), Delete(4, 5), Get(6, 7, std::nullopt)}), kYes);
  EXPECT_EQ(V({Put(0, 1, "a"), Delete(2, 3), Get(4, 5, "a")}), kNo);  // resurrected
  EXPECT_EQ(V({Get(0, 1, "init")}, "init"), kYes);
}

TEST(RegisterChecker, StaleReadAfterAcknowledgedWriteIsCaught) {
  // put(a) returned before the get was invoked: the get must see a.
  EXPECT_EQ(V({Put(0, 10, "a"), Get(11, 20, std::nullopt)}), kNo);
  // Overlapping: either answer is fine.
  EXPECT_EQ(V({Put(0, 10, "a"), Get(5, 20, std::nullopt)}), kYes);
  EXPECT_EQ(V({Put(0, 10, "a"), Get(5, 20, "a")}), kYes);
}

TEST(RegisterChecker, NewOldInversionIsNotLinearizable) {
  // The classic: w(1) is in flight; one reader sees 1, then a later reader (invoked after the
  // first returned) sees the old 0. Each read alone overlaps the write, but not together.
  EXPECT_EQ(V({Put(0, 1, "0", 0), Put(2, 100, "1", 1), Get(10, 20, "1", 2), Get(30, 40, "0", 3)}),
            kNo);
  // The same reads overlapping each other are fine (the second may linearize first).
  EXPECT_EQ(V({Put(0, 1, "0", 0), Put(2, 100, "1", 1), Get(10, 35, "1", 2), Get(30, 40, "0", 3)}),
            kYes);
}

TEST(RegisterChecker, HerlihyWingQueueStyleRegisterExamples) {
  // Herlihy & Wing, Fig. 1 style for registers: two writers, readers that agree on one order.
  std::vector<Op> ok = {Put(0, 10, "x", 0), Put(5, 15, "y", 1), Get(12, 20, "y", 2),
                        Get(21, 30, "y", 3)};
  EXPECT_EQ(V(ok), kYes);
  // Readers disagree on the order of two completed writes: after both returned, one reader sees
  // x and a later one sees y, then a later one x again: impossible.
  std::vector<Op> bad = {Put(0, 10, "x", 0), Put(5, 15, "y", 1), Get(20, 25, "x", 2),
                         Get(26, 30, "y", 3), Get(31, 35, "x", 2)};
  EXPECT_EQ(V(bad), kNo);
}

TEST(RegisterChecker, ConcurrentCasHasOneWinner) {
  // Two concurrent create-if-absent CASes: exactly one may succeed.
  EXPECT_EQ(V({Cas(0, 10, std::nullopt, "a", true, 0), Cas(1, 11, std::nullopt, "b", false, 1)}),
            kYes);
  EXPECT_EQ(V({Cas(0, 10, std::nullopt, "a", true, 0), Cas(1, 11, std::nullopt, "b", true, 1)}),
            kNo);
  // A refused CAS is an observation: the value differed from `expected` at some instant.
  EXPECT_EQ(V({Put(0, 1, "a"), Cas(2, 3, "a", "b", false)}), kNo);
  EXPECT_EQ(V({Put(0, 1, "a"), Cas(2, 3, "z", "b", false), Get(4, 5, "a")}), kYes);
  // Increment chain: a -> b -> c, read sees c.
  EXPECT_EQ(V({Put(0, 1, "a"), Cas(2, 6, "a", "b", true, 1), Cas(3, 7, "b", "c", true, 2),
               Get(8, 9, "c")}),
            kYes);
  // Same chain but the second CAS returned before the first began: it could not see b.
  EXPECT_EQ(V({Put(0, 1, "a"), Cas(5, 6, "a", "b", true, 1), Cas(2, 3, "b", "c", true, 2)}), kNo);
  // CAS to absent (a conditional delete).
  EXPECT_EQ(V({Put(0, 1, "a"), Cas(2, 3, "a", std::nullopt, true), Get(4, 5, std::nullopt)}), kYes);
}

TEST(RegisterChecker, UnknownOutcomesMayApplyLateOrNever) {
  // An unknown PUT may never apply...
  EXPECT_EQ(V({Unknown(Put(0, 0, "a")), Get(10, 11, std::nullopt)}), kYes);
  // ...or apply late, even long after the client gave up.
  EXPECT_EQ(V({Unknown(Put(0, 0, "a")), Get(10, 11, std::nullopt), Get(20, 21, "a")}), kYes);
  // But at most once: seen, then gone, then seen again needs two applications.
  EXPECT_EQ(V({Put(0, 1, "b"), Unknown(Put(2, 0, "a")), Get(10, 11, "a"), Put(12, 13, "b"),
               Get(14, 15, "b"), Get(16, 17, "a")}),
            kNo);
  // It cannot apply before it was invoked.
  EXPECT_EQ(V({Get(0, 1, "a"), Unknown(Put(2, 0, "a"))}), kNo);
  // An unknown CAS applies only if its condition held when it took effect.
  EXPECT_EQ(V({Put(0, 1, "x"), Unknown(Cas(2, 0, "y", "z", true)), Get(10, 11, "z")}), kNo);
  EXPECT_EQ(V({Put(0, 1, "y"), Unknown(Cas(2, 0, "y", "z", true)), Get(10, 11, "z")}), kYes);
}

TEST(RegisterChecker, NeedsBacktrackingAcrossManyConcurrentOps) {
  // Eight concurrent writers, then readers that pin down the order of the last two: the search
  // has to try orders and back out of wrong ones.
  std::vector<Op> h;
  for (int i = 0; i < 8; ++i) h.push_back(Put(0, 100, std::to_string(i), i));
  h.push_back(Get(50, 60, "3", 10));
  h.push_back(Get(110, 120, "5", 11));
  h.push_back(Get(130, 140, "5", 12));
  EXPECT_EQ(V(h), kYes);
  h.push_back(Get(150, 160, "3", 13));  // 3 was overwritten by 5 for good
  EXPECT_EQ(V(h), kNo);
}

TEST(RegisterChecker, StepBudgetGivesUnknown) {
  std::vector<Op> h;
  for (int i = 0; i < 30; ++i) h.push_back(Put(0, 1000, std::to_string(i), i));
  h.push_back(Get(2000, 2001, "nobody"));
  CheckOptions o;
  o.max_steps = 1000;
  EXPECT_EQ(Check(h, o).verdict, Verdict::kUnknown);
}

TEST(RegisterChecker, LongSequentialHistoryIsFast) {
  std::vector<Op> h;
  for (int i = 0; i < 2000; ++i) {
    h.push_back(Put(4 * i, 4 * i + 1, std::to_string(i)));
    h.push_back(Get(4 * i + 2, 4 * i + 3, std::to_string(i)));
  }
  CheckResult r = Check(h);
  EXPECT_EQ(r.verdict, kYes);
  h.push_back(Get(100000, 100001, "7"));
  EXPECT_EQ(Check(h).verdict, kNo);
}

}  // namespace
}  // namespace tessera::testing::lincheck
