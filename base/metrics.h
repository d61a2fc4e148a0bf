// Metrics: a small Prometheus registry that renders the text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/).
//
//   Registry& reg = Registry::Default();   // or a private `Registry reg;` in tests
//   auto puts = reg.AddCounter("tessera_slice_puts_total", "Slices stored.", {"result"});
//   if (!puts.ok()) return puts.status();
//   Counter& ok_puts = (*puts)->WithLabels({"ok"});       // cache this reference
//   ok_puts.Increment();                                   // hot path: one atomic add
//   auto lat = reg.AddHistogram("tessera_put_seconds", "Put latency.", {}, DefaultBuckets());
//   (*lat)->WithLabels({}).Observe(0.012);
//   std::string text = reg.Serialize();                    // serve at /metrics
//
// Families: a metric name with HELP text, a type and a fixed list of label names. WithLabels()
// returns the child for one tuple of label values, creating it on first use; the reference stays
// valid for the registry's lifetime. Adding a family whose name already exists returns the
// existing one if type, help, label names (and buckets) match, else ALREADY_EXISTS.
//
// Validation: metric names match [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*
// and must not start with "__" or repeat; histograms may not use the label "le". Label values
// may be any bytes; the exposition escapes backslash, double quote and newline (HELP text:
// backslash and newline).
//
// Output: families sorted by name, children sorted by label values; each family has one HELP
// and one TYPE line. Numbers use the shortest form that round-trips; +Inf, -Inf and NaN are
// spelled as Prometheus expects. A histogram's buckets are cumulative, end with le="+Inf", and
// its _count equals the +Inf bucket even while other threads observe.
//
// Thread-safety: everything is thread-safe. Counter/Gauge/Histogram updates are lock-free
// atomics; WithLabels takes the family's lock (cache the result on hot paths).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace tessera {

// A monotonically increasing value.
class Counter {
 public:
  // Adds `v`; negative or NaN increments are ignored (a counter never goes down).
  void Increment(double v = 1.0);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// A value that goes up and down.
class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  void Sub(double v) { value_.fetch_sub(v, std::memory_order_relaxed); }
  void Increment() { Add(1.0); }
  void Decrement() { Sub(1.0); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Counts observations into buckets by upper bound (le = "less than or equal").
class Histogram {
 public:
  // `bounds`: validated, strictly increasing, finite upper bounds (without +Inf).
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);

  struct Snapshot {
    std::vector<double> bounds;               // finite upper bounds
    std::vector<uint64_t> cumulative_counts;  // bounds.size() + 1 entries; last is +Inf
    double sum = 0;
    uint64_t count = 0;  // == cumulative_counts.back()
  };
  Snapshot GetSnapshot() const;

 private:
  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // per bucket (not cumulative), +Inf last
  std::atomic<double> sum_{0.0};
};

// Prometheus' default buckets: .005 .01 .025 .05 .1 .25 .5 1 2.5 5 10 (seconds).
std::vector<double> DefaultBuckets();
// `count` bounds start, start*factor, ... (start > 0, factor > 1).
std::vector<double> ExponentialBuckets(double start, double factor, int count);
// `count` bounds start, start+width, ... (width > 0).
std::vector<double> LinearBuckets(double start, double width, int count);

enum class MetricType { kCounter, kGauge, kHistogram };

// Name/label validation, exposed for callers that build names dynamically.
bool IsValidMetricName(absl::string_view name);
bool IsValidLabelName(absl::string_view name);

// A family of metrics of type T sharing a name and label names.
template <typename T>
class MetricFamily {
 public:
  const std::string& name() const { return name_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

  // The child for `values` (one per label name, in order). Passing the wrong number of values
  // is a programming error and aborts the process with a message.
  T& WithLabels(const std::vector<std::string>& values);

 private:
  friend class Registry;
  MetricFamily(std::string name, std::vector<std::string> label_names,
               std::vector<double> bounds = {})
      : name_(std::move(name)), label_names_(std::move(label_names)), bounds_(std::move(bounds)) {}

  const std::string name_;
  const std::vector<std::string> label_names_;
  const std::vector<double> bounds_;  // histograms only
  mutable absl::Mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_ ABSL_GUARDED_BY(mu_);
};

using CounterFamily = MetricFamily<Counter>;
using GaugeFamily = MetricFamily<Gauge>;
using HistogramFamily = MetricFamily<Histogram>;

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The process-wide registry. Never null; never deleted.
  static Registry& Default();

  // INVALID_ARGUMENT for a bad name, label name or buckets; ALREADY_EXISTS for a clashing
  // family of the same name. The returned pointer lives as long as the registry.
  absl::StatusOr<CounterFamily*> AddCounter(const std::string& name, const std::string& help,
                                            std::vector<std::string> label_names = {});
  absl::StatusOr<GaugeFamily*> AddGauge(const std::string& name, const std::string& help,
                                        std::vector<std::string> label_names = {});
  // `buckets`: strictly increasing finite upper bounds; a trailing +Inf is accepted and dropped.
  absl::StatusOr<HistogramFamily*> AddHistogram(const std::string& name, const std::string& help,
                                                std::vector<std::string> label_names,
                                                std::vector<double> buckets);

  // The exposition text (format 0.0.4), served with
  // Content-Type: text/plain; version=0.0.4; charset=utf-8.
  std::string Serialize() const;

 private:
  struct Entry;
  absl::StatusOr<Entry*> Add(const std::string& name, const std::string& help, MetricType type,
                             std::vector<std::string>& label_names, std::vector<double>& buckets);

  mutable absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<Entry>> families_ ABSL_GUARDED_BY(mu_);
};

// Shortest round-tripping text of `v` as Prometheus expects ("+Inf", "-Inf", "NaN", "0.1").
std::string FormatMetricValue(double v);
// Escapes a label value (\\, \", \n) / HELP text (\\, \n).
std::string EscapeLabelValue(absl::string_view v);
std::string EscapeHelp(absl::string_view v);

}  // namespace tessera
