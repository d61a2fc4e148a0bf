#include "base/metrics.h"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tessera {
namespace {

using ::tessera::testing::StatusIs;

// ---- A small parser for the text exposition format 0.0.4 ----

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct Family {
  std::string help;
  std::string type;
  std::vector<Sample> samples;
};

struct Exposition {
  std::map<std::string, Family> families;  // by family name
  std::vector<std::string> errors;
};

double ParseValue(const std::string& s, bool* ok) {
  *ok = true;
  if (s == "+Inf") return std::numeric_limits<double>::infinity();
  if (s == "-Inf") return -std::numeric_limits<double>::infinity();
  if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  *ok = !s.empty() && end == s.c_str() + s.size();
  return v;
}

std::string Unescape(const std::string& s, bool allow_quote, std::string* error) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out.push_back(s[i]);
      continue;
    }
    if (++i == s.size()) {
      *error = "dangling backslash";
      break;
    }
    if (s[i] == 'n') {
      out.push_back('\n');
    } else if (s[i] == '\\' || (allow_quote && s[i] == '"')) {
      out.push_back(s[i]);
    } else {
      *error = absl::StrCat("bad escape \\", std::string(1, s[i]));
    }
  }
  return out;
}

// The family a sample belongs to: histogram series carry _bucket/_sum/_count suffixes.
std::string FamilyOf(const std::string& sample, const std::map<std::string, Family>& families) {
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    std::string s(suffix);
    if (sample.size() > s.size() && sample.compare(sample.size() - s.size(), s.size(), s) == 0) {
      std::string base = sample.substr(0, sample.size() - s.size());
      auto it = families.find(base);
      if (it != families.end() && it->second.type == "histogram") return base;
    }
  }
  return sample;
}

Exposition Parse(const std::string& text) {
  Exposition ex;
  if (!text.empty() && text.back() != '\n') ex.errors.push_back("missing final newline");
  for (absl::string_view line_sv : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::string line(line_sv);
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) {
      std::string rest = line.substr(7);
      size_t sp = rest.find(' ');
      if (sp == std::string::npos) {
        ex.errors.push_back("comment without text: " + line);
        continue;
      }
      std::string name = rest.substr(0, sp);
      Family& f = ex.families[name];
      std::string err;
      if (line[2] == 'H') {
        if (!f.help.empty()) ex.errors.push_back("second HELP for " + name);
        f.help = Unescape(rest.substr(sp + 1), /*allow_quote=*/false, &err);
      } else {
        if (!f.type.empty()) ex.errors.push_back("second TYPE for " + name);
        if (!f.samples.empty()) ex.errors.push_back("TYPE after samples for " + name);
        f.type = rest.substr(sp + 1);
      }
      if (!err.empty()) ex.errors.push_back(err + ": " + line);
      continue;
    }
    if (line[0] == '#') continue;
    // name{labels} value
    Sample s;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    s.name = line.substr(0, i);
    if (!IsValidMetricName(s.name)) ex.errors.push_back("bad name in: " + line);
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        size_t eq = line.find('=', i);
        if (eq == std::string::npos || eq + 1 >= line.size() || line[eq + 1] != '"') {
          ex.errors.push_back("bad label in: " + line);
          break;
        }
        std::string lname = line.substr(i, eq - i);
        size_t j = eq + 2;
        std::string raw;
        while (j < line.size() && line[j] != '"') {
          if (line[j] == '\\' && j + 1 < line.size()) raw.push_back(line[j++]);
          raw.push_back(line[j++]);
        }
        if (j >= line.size()) {
          ex.errors.push_back("unterminated label value in: " + line);
          break;
        }
        std::string err;
        if (lname != "le" && !IsValidLabelName(lname)) ex.errors.push_back("bad label " + lname);
        if (!s.labels.emplace(lname, Unescape(raw, true, &err)).second) {
          ex.errors.push_back("duplicate label in: " + line);
        }
        if (!err.empty()) ex.errors.push_back(err + " in: " + line);
        i = j + 1;
        if (i < line.size() && line[i] == ',') ++i;
      }
      ++i;  // '}'
    }
    if (i >= line.size() || line[i] != ' ') {
      ex.errors.push_back("no value in: " + line);
      continue;
    }
    bool ok;
    s.value = ParseValue(line.substr(i + 1), &ok);
    if (!ok) ex.errors.push_back("bad value in: " + line);
    std::string family = FamilyOf(s.name, ex.families);
    auto it = ex.families.find(family);
    if (it == ex.families.end() || it->second.type.empty()) {
      ex.errors.push_back("sample before its TYPE: " + line);
      continue;
    }
    it->second.samples.push_back(std::move(s));
  }
  return ex;
}

const Sample* Find(const Family& f, const std::string& name,
                   const std::map<std::string, std::string>& labels) {
  for (const Sample& s : f.samples) {
    if (s.name == name && s.labels == labels) return &s;
  }
  return nullptr;
}

// Checks every histogram series: cumulative, monotonic buckets ending in +Inf, _count equal to
// the +Inf bucket, a _sum present. Returns the number of series checked.
int CheckHistograms(const Exposition& ex) {
  int series = 0;
  for (const auto& [name, f] : ex.families) {
    if (f.type != "histogram") continue;
    std::map<std::map<std::string, std::string>, std::vector<std::pair<double, double>>> buckets;
    for (const Sample& s : f.samples) {
      if (s.name != name + "_bucket") continue;
      auto labels = s.labels;
      EXPECT_EQ(labels.count("le"), 1u);
      bool ok;
      double le = ParseValue(labels["le"], &ok);
      EXPECT_TRUE(ok) << labels["le"];
      labels.erase("le");
      buckets[labels].emplace_back(le, s.value);
    }
    for (const auto& [labels, bs] : buckets) {
      ++series;
      EXPECT_FALSE(bs.empty());
      if (bs.empty()) continue;
      for (size_t i = 1; i < bs.size(); ++i) {
        EXPECT_LT(bs[i - 1].first, bs[i].first) << name << ": le not increasing";
        EXPECT_LE(bs[i - 1].second, bs[i].second) << name << ": buckets not cumulative";
      }
      EXPECT_TRUE(std::isinf(bs.back().first)) << name << ": last bucket is not +Inf";
      const Sample* count = Find(f, name + "_count", labels);
      const Sample* sum = Find(f, name + "_sum", labels);
      EXPECT_NE(sum, nullptr) << name << " has no _sum";
      EXPECT_NE(count, nullptr) << name << " has no _count";
      if (count != nullptr) {
        EXPECT_EQ(count->value, bs.back().second);
      }
    }
  }
  return series;
}

// ---- Tests ----

TEST(MetricsTest, CounterGaugeRoundTripThroughParser) {
  Registry reg;
  ASSERT_OK_AND_ASSIGN(CounterFamily * puts,
                       reg.AddCounter("tessera_puts_total", "Slices stored.", {"result"}));
  ASSERT_OK_AND_ASSIGN(GaugeFamily * free_bytes, reg.AddGauge("tessera_free_bytes", "Free."));
  puts->WithLabels({"ok"}).Increment();
  puts->WithLabels({"ok"}).Increment(2);
  puts->WithLabels({"error"}).Increment();
  puts->WithLabels({"ok"}).Increment(-5);  // ignored
  free_bytes->WithLabels({}).Set(1e12);
  free_bytes->WithLabels({}).Sub(0.5);

  Exposition ex = Parse(reg.Serialize());
  EXPECT_THAT(ex.errors, ::testing::IsEmpty());
  ASSERT_EQ(ex.families.size(), 2u);
  const Family& p = ex.families["tessera_puts_total"];
  EXPECT_EQ(p.type, "counter");
  EXPECT_EQ(p.help, "Slices stored.");
  ASSERT_EQ(p.samples.size(), 2u);
  ASSERT_NE(Find(p, "tessera_puts_total", {{"result", "ok"}}), nullptr);
  EXPECT_EQ(Find(p, "tessera_puts_total", {{"result", "ok"}})->value, 3);
  EXPECT_EQ(Find(p, "tessera_puts_total", {{"result", "error"}})->value, 1);
  const Family& g = ex.families["tessera_free_bytes"];
  EXPECT_EQ(g.type, "gauge");
  ASSERT_EQ(g.samples.size(), 1u);
  EXPECT_EQ(g.samples[0].value, 1e12 - 0.5);
  EXPECT_TRUE(g.samples[0].labels.empty());
}

TEST(MetricsTest, HistogramBucketsSumCount) {
  Registry reg;
  ASSERT_OK_AND_ASSIGN(HistogramFamily * lat,
                       reg.AddHistogram("tessera_put_seconds", "Latency.", {"op"},
                                        {0.1, 1, 10, std::numeric_limits<double>::infinity()}));
  Histogram& h = lat->WithLabels({"put"});
  for (double v : {0.05, 0.1, 0.5, 3.0, 100.0}) h.Observe(v);
  lat->WithLabels({"get"}).Observe(0.2);

  Exposition ex = Parse(reg.Serialize());
  ASSERT_THAT(ex.errors, ::testing::IsEmpty());
  EXPECT_EQ(CheckHistograms(ex), 2);
  const Family& f = ex.families["tessera_put_seconds"];
  EXPECT_EQ(f.type, "histogram");
  auto bucket = [&](const std::string& op, const std::string& le) {
    const Sample* s = Find(f, "tessera_put_seconds_bucket", {{"op", op}, {"le", le}});
    return s == nullptr ? -1.0 : s->value;
  };
  EXPECT_EQ(bucket("put", "0.1"), 2);  // le is inclusive
  EXPECT_EQ(bucket("put", "1"), 3);
  EXPECT_EQ(bucket("put", "10"), 4);
  EXPECT_EQ(bucket("put", "+Inf"), 5);
  EXPECT_EQ(bucket("get", "0.1"), 0);
  EXPECT_EQ(bucket("get", "1"), 1);
  EXPECT_DOUBLE_EQ(Find(f, "tessera_put_seconds_sum", {{"op", "put"}})->value, 103.65);
  EXPECT_EQ(Find(f, "tessera_put_seconds_count", {{"op", "put"}})->value, 5);
  // 4 buckets + sum + count per series, two series.
  EXPECT_EQ(f.samples.size(), 12u);
}

TEST(MetricsTest, EscapingOfLabelValuesAndHelp) {
  Registry reg;
  const std::string help = "Line one\nback\\slash \"quoted\"";
  ASSERT_OK_AND_ASSIGN(CounterFamily * c, reg.AddCounter("x_total", help, {"path", "b"}));
  const std::string nasty = "a\"b\\c\nd} e=,f";
  c->WithLabels({nasty, ""}).Increment();
  const std::string text = reg.Serialize();
  // Every logical line stays on one physical line.
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3);
  EXPECT_NE(text.find("# HELP x_total Line one\\nback\\\\slash \"quoted\"\n"), std::string::npos);
  Exposition ex = Parse(text);
  ASSERT_THAT(ex.errors, ::testing::IsEmpty());
  EXPECT_EQ(ex.families["x_total"].help, help);
  ASSERT_EQ(ex.families["x_total"].samples.size(), 1u);
  EXPECT_EQ(ex.families["x_total"].samples[0].labels.at("path"), nasty);
  EXPECT_EQ(ex.families["x_total"].samples[0].labels.at("b"), "");
  EXPECT_EQ(EscapeLabelValue("a\"\\\n"), "a\\\"\\\\\\n");
  EXPECT_EQ(EscapeHelp("a\"\\\n"), "a\"\\\\\\n");
}

TEST(MetricsTest, ValueFormatting) {
  EXPECT_EQ(FormatMetricValue(0), "0");
  EXPECT_EQ(FormatMetricValue(3), "3");
  EXPECT_EQ(FormatMetricValue(0.1), "0.1");
  EXPECT_EQ(FormatMetricValue(-2.5), "-2.5");
  EXPECT_EQ(FormatMetricValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatMetricValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatMetricValue(std::nan("")), "NaN");
  for (double v : {1e-300, 123456789.123, 1.0 / 3, 1e21}) {
    bool ok;
    EXPECT_EQ(ParseValue(FormatMetricValue(v), &ok), v);
    EXPECT_TRUE(ok);
  }
}

TEST(MetricsTest, NameValidation) {
  Registry reg;
  EXPECT_THAT(reg.AddCounter("", "h"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(reg.AddCounter("9lives", "h"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(reg.AddCounter("has-dash", "h"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(reg.AddCounter("ok:name_1", "h"), StatusIs(absl::StatusCode::kOk));
  EXPECT_THAT(reg.AddCounter("c", "h", {"__reserved"}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(reg.AddCounter("c", "h", {"a:b"}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(reg.AddCounter("c", "h", {"a", "a"}),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("duplicate")));
  EXPECT_THAT(reg.AddHistogram("h", "h", {"le"}, {1}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(reg.AddCounter("c", "h", {"le"}), StatusIs(absl::StatusCode::kOk));
  EXPECT_THAT(reg.AddHistogram("h", "h", {}, {}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(reg.AddHistogram("h", "h", {}, {1, 1}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(reg.AddHistogram("h", "h", {}, {2, 1}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(reg.AddHistogram("h", "h", {}, {std::nan("")}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_TRUE(IsValidLabelName("_x9"));
  EXPECT_FALSE(IsValidLabelName("9x"));
}

TEST(MetricsTest, ReRegistrationIsIdempotentOrAClash) {
  Registry reg;
  ASSERT_OK_AND_ASSIGN(CounterFamily * a, reg.AddCounter("n_total", "help", {"x"}));
  ASSERT_OK_AND_ASSIGN(CounterFamily * b, reg.AddCounter("n_total", "help", {"x"}));
  EXPECT_EQ(a, b);
  EXPECT_THAT(reg.AddCounter("n_total", "other help", {"x"}),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(reg.AddCounter("n_total", "help", {"y"}), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(reg.AddGauge("n_total", "help", {"x"}), StatusIs(absl::StatusCode::kAlreadyExists));
  ASSERT_OK(reg.AddHistogram("h", "help", {}, {1, 2}));
  EXPECT_THAT(reg.AddHistogram("h", "help", {}, {1, 3}),
              StatusIs(absl::StatusCode::kAlreadyExists));
}

TEST(MetricsTest, WithLabelsReturnsCachedChild) {
  Registry reg;
  ASSERT_OK_AND_ASSIGN(GaugeFamily * g, reg.AddGauge("g", "h", {"a", "b"}));
  Gauge& one = g->WithLabels({"1", "2"});
  EXPECT_EQ(&one, &g->WithLabels({"1", "2"}));
  EXPECT_NE(&one, &g->WithLabels({"2", "1"}));
  one.Increment();
  one.Increment();
  one.Decrement();
  EXPECT_EQ(g->WithLabels({"1", "2"}).Value(), 1);
}

TEST(MetricsDeathTest, WrongLabelArityAborts) {
  Registry reg;
  auto c = reg.AddCounter("c_total", "h", {"a"});
  ASSERT_OK(c);
  EXPECT_DEATH((*c)->WithLabels({"1", "2"}), "2 values for 1 label names");
}

TEST(MetricsTest, DeterministicSortedOutputWithOneHelpAndTypePerFamily) {
  Registry reg;
  ASSERT_OK_AND_ASSIGN(CounterFamily * z, reg.AddCounter("z_total", "z", {"k"}));
  ASSERT_OK_AND_ASSIGN(CounterFamily * a, reg.AddCounter("a_total", "a"));
  z->WithLabels({"b"}).Increment();
  z->WithLabels({"a"}).Increment();
  a->WithLabels({}).Increment();
  const std::string text = reg.Serialize();
  EXPECT_EQ(text, reg.Serialize());
  EXPECT_LT(text.find("a_total"), text.find("z_total"));
  EXPECT_LT(text.find("z_total{k=\"a\"}"), text.find("z_total{k=\"b\"}"));
  Exposition ex = Parse(text);
  EXPECT_THAT(ex.errors, ::testing::IsEmpty());  // the parser rejects repeated HELP/TYPE
}

TEST(MetricsTest, FamilyWithoutChildrenStillHasHelpAndType) {
  Registry reg;
  ASSERT_OK(reg.AddGauge("lonely", "No samples yet."));
  Exposition ex = Parse(reg.Serialize());
  EXPECT_THAT(ex.errors, ::testing::IsEmpty());
  EXPECT_EQ(ex.families["lonely"].type, "gauge");
  EXPECT_TRUE(ex.families["lonely"].samples.empty());
}

TEST(MetricsTest, ConcurrentUpdatesAndScrapesStayConsistent) {
  Registry reg;
  ASSERT_OK_AND_ASSIGN(CounterFamily * c, reg.AddCounter("ops_total", "ops", {"t"}));
  ASSERT_OK_AND_ASSIGN(HistogramFamily * h,
                       reg.AddHistogram("size_bytes", "sizes", {}, ExponentialBuckets(1, 4, 6)));
  constexpr int kThreads = 4;
  constexpr int kOps = 5000;
  std::atomic<bool> done{false};
  std::vector<std::string> scrape_errors;
  std::thread scraper([&] {
    while (!done.load()) {
      Exposition ex = Parse(reg.Serialize());
      for (auto& e : ex.errors) scrape_errors.push_back(e);
      CheckHistograms(ex);
    }
  });
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, t] {
      Counter& mine = c->WithLabels({absl::StrCat(t)});
      Histogram& hist = h->WithLabels({});
      for (int i = 0; i < kOps; ++i) {
        mine.Increment();
        hist.Observe(i % 2000);
      }
    });
  }
  for (auto& w : workers) w.join();
  done = true;
  scraper.join();
  EXPECT_THAT(scrape_errors, ::testing::IsEmpty());
  Exposition ex = Parse(reg.Serialize());
  for (int t = 0; t < kThreads; ++t) {
    const Sample* s = Find(ex.families["ops_total"], "ops_total", {{"t", absl::StrCat(t)}});
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->value, kOps);
  }
  const Sample* count = Find(ex.families["size_bytes"], "size_bytes_count", {});
  ASSERT_NE(count, nullptr);
  EXPECT_EQ(count->value, kThreads * kOps);
  EXPECT_EQ(CheckHistograms(ex), 1);
}

TEST(MetricsTest, HistogramNaNGoesToInfBucket) {
  Histogram h({1, 2});
  h.Observe(std::nan(""));
  h.Observe(-5);
  Histogram::Snapshot s = h.GetSnapshot();
  EXPECT_EQ(s.cumulative_counts, (std::vector<uint64_t>{1, 1, 2}));
  EXPECT_EQ(s.count, 2u);
}

TEST(MetricsTest, BucketHelpers) {
  EXPECT_EQ(ExponentialBuckets(1, 2, 4), (std::vector<double>{1, 2, 4, 8}));
  EXPECT_EQ(LinearBuckets(0, 5, 3), (std::vector<double>{0, 5, 10}));
  EXPECT_EQ(DefaultBuckets().size(), 11u);
}

TEST(MetricsTest, DefaultRegistryIsASingleton) {
  EXPECT_EQ(&Registry::Default(), &Registry::Default());
  ASSERT_OK(Registry::Default().AddCounter("metrics_test_default_total", "h"));
  EXPECT_NE(Registry::Default().Serialize().find("metrics_test_default_total"), std::string::npos);
}

}  // namespace
}  // namespace tessera
