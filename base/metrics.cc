#include "base/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/internal/raw_logging.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace tessera {

// ---- values ----

void Counter::Increment(double v) {
  if (!(v > 0)) return;  // also rejects NaN
  value_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double v) {
  // First bucket whose upper bound is >= v; NaN lands in +Inf.
  size_t i = std::isnan(v)
                 ? bounds_.size()
                 : static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) -
                                       bounds_.begin());
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::GetSnapshot() const {
  Snapshot s;
  s.bounds = bounds_;
  s.cumulative_counts.resize(bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative_counts[i] = running;
  }
  s.count = running;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> DefaultBuckets() { return {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}; }

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  std::vector<double> out;
  double v = start;
  for (int i = 0; i < count; ++i, v *= factor) out.push_back(v);
  return out;
}

std::vector<double> LinearBuckets(double start, double width, int count) {
  std::vector<double> out;
  for (int i = 0; i < count; ++i) out.push_back(start + width * i);
  return out;
}

// ---- names and text ----

bool IsValidMetricName(absl::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = absl::ascii_isalpha(c) || c == '_' || c == ':' || (i > 0 && absl::ascii_isdigit(c));
    if (!ok) return false;
  }
  return true;
}

bool IsValidLabelName(absl::string_view name) {
  if (name.empty() || absl::StartsWith(name, "__")) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = absl::ascii_isalpha(c) || c == '_' || (i > 0 && absl::ascii_isdigit(c));
    if (!ok) return false;
  }
  return true;
}

std::string FormatMetricValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto result = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, result.ptr);
}

std::string EscapeLabelValue(absl::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string EscapeHelp(absl::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// ---- families ----

template <typename T>
T& MetricFamily<T>::WithLabels(const std::vector<std::string>& values) {
  if (values.size() != label_names_.size()) {
    ABSL_RAW_LOG(FATAL, "metric %s: WithLabels got %zu values for %zu label names", name_.c_str(),
                 values.size(), label_names_.size());
  }
  absl::MutexLock lock(&mu_);
  std::unique_ptr<T>& child = children_[values];
  if (!child) {
    if constexpr (std::is_same_v<T, Histogram>) {
      child = std::make_unique<Histogram>(bounds_);
    } else {
      child = std::make_unique<T>();
    }
  }
  return *child;
}

template class MetricFamily<Counter>;
template class MetricFamily<Gauge>;
template class MetricFamily<Histogram>;

struct Registry::Entry {
  std::string help;
  MetricType type;
  std::vector<std::string> label_names;
  std::vector<double> bounds;
  std::unique_ptr<CounterFamily> counter;
  std::unique_ptr<GaugeFamily> gauge;
  std::unique_ptr<HistogramFamily> histogram;
};

Registry::Registry() = default;
Registry::~Registry() = default;

Registry& Registry::Default() {
  static Registry* const registry = new Registry();
  return *registry;
}

absl::StatusOr<Registry::Entry*> Registry::Add(const std::string& name, const std::string& help,
                                               MetricType type,
                                               std::vector<std::string>& label_names,
                                               std::vector<double>& buckets) {
  if (!IsValidMetricName(name)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid metric name \"", name, "\""));
  }
  std::set<std::string> seen;
  for (const std::string& l : label_names) {
    if (!IsValidLabelName(l)) {
      return absl::InvalidArgumentError(
          absl::StrCat("metric ", name, ": invalid label name \"", l, "\""));
    }
    if (type == MetricType::kHistogram && l == "le") {
      return absl::InvalidArgumentError(
          absl::StrCat("metric ", name, ": histograms may not use the label \"le\""));
    }
    if (!seen.insert(l).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("metric ", name, ": duplicate label name \"", l, "\""));
    }
  }
  if (type == MetricType::kHistogram) {
    if (!buckets.empty() && std::isinf(buckets.back()) && buckets.back() > 0) buckets.pop_back();
    if (buckets.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("histogram ", name, ": no buckets"));
    }
    for (size_t i = 0; i < buckets.size(); ++i) {
      if (!std::isfinite(buckets[i]) || (i > 0 && !(buckets[i] > buckets[i - 1]))) {
        return absl::InvalidArgumentError(absl::StrCat(
            "histogram ", name, ": buckets must be finite and strictly increasing (bucket ", i,
            " is ", FormatMetricValue(buckets[i]), ")"));
      }
    }
  }
  absl::MutexLock lock(&mu_);
  std::unique_ptr<Entry>& entry = families_[name];
  if (entry) {
    if (entry->type != type || entry->help != help || entry->label_names != label_names ||
        entry->bounds != buckets) {
      return absl::AlreadyExistsError(
          absl::StrCat("metric ", name, " already registered with a different definition"));
    }
    return entry.get();
  }
  entry = std::make_unique<Entry>();
  entry->help = help;
  entry->type = type;
  entry->label_names = label_names;
  entry->bounds = buckets;
  switch (type) {
    case MetricType::kCounter:
      entry->counter.reset(new CounterFamily(name, label_names));
      break;
    case MetricType::kGauge:
      entry->gauge.reset(new GaugeFamily(name, label_names));
      break;
    case MetricType::kHistogram:
      entry->histogram.reset(new HistogramFamily(name, label_names, buckets));
      break;
  }
  return entry.get();
}

absl::StatusOr<CounterFamily*> Registry::AddCounter(const std::string& name,
                                                    const std::string& help,
                                                    std::vector<std::string> label_names) {
  std::vector<double> none;
  absl::StatusOr<Entry*> e = Add(name, help, MetricType::kCounter, label_names, none);
  if (!e.ok()) return e.status();
  return (*e)->counter.get();
}

absl::StatusOr<GaugeFamily*> Registry::AddGauge(const std::string& name, const std::string& help,
                                                std::vector<std::string> label_names) {
  std::vector<double> none;
  absl::StatusOr<Entry*> e = Add(name, help, MetricType::kGauge, label_names, none);
  if (!e.ok()) return e.status();
  return (*e)->gauge.get();
}

absl::StatusOr<HistogramFamily*> Registry::AddHistogram(const std::string& name,
                                                        const std::string& help,
                                                        std::vector<std::string> label_names,
                                                        std::vector<double> buckets) {
  absl::StatusOr<Entry*> e = Add(name, help, MetricType::kHistogram, label_names, buckets);
  if (!e.ok()) return e.status();
  return (*e)->histogram.get();
}

namespace {

// `{a="x",b="y"}` (with an optional extra pair appended), or "" when there are no labels.
std::string LabelText(const std::vector<std::string>& names, const std::vector<std::string>& values,
                      absl::string_view extra_name = "", absl::string_view extra_value = "") {
  std::vector<std::string> parts;
  for (size_t i = 0; i < names.size(); ++i) {
    parts.push_back(absl::StrCat(names[i], "=\"", EscapeLabelValue(values[i]), "\""));
  }
  if (!extra_name.empty()) {
    parts.push_back(absl::StrCat(extra_name, "=\"", EscapeLabelValue(extra_value), "\""));
  }
  if (parts.empty()) return "";
  return absl::StrCat("{", absl::StrJoin(parts, ","), "}");
}

template <typename T>
void AppendSimple(std::string* out, const std::string& name,
                  const std::vector<std::string>& label_names,
                  const std::map<std::vector<std::string>, std::unique_ptr<T>>& children) {
  for (const auto& [values, child] : children) {
    absl::StrAppend(out, name, LabelText(label_names, values), " ",
                    FormatMetricValue(child->Value()), "\n");
  }
}

}  // namespace

std::string Registry::Serialize() const {
  std::string out;
  absl::MutexLock lock(&mu_);
  for (const auto& [name, entry] : families_) {
    const char* type = entry->type == MetricType::kCounter ? "counter"
                       : entry->type == MetricType::kGauge ? "gauge"
                                                           : "histogram";
    absl::StrAppend(&out, "# HELP ", name, " ", EscapeHelp(entry->help), "\n");
    absl::StrAppend(&out, "# TYPE ", name, " ", type, "\n");
    switch (entry->type) {
      case MetricType::kCounter: {
        absl::MutexLock family_lock(&entry->counter->mu_);
        AppendSimple(&out, name, entry->label_names, entry->counter->children_);
        break;
      }
      case MetricType::kGauge: {
        absl::MutexLock family_lock(&entry->gauge->mu_);
        AppendSimple(&out, name, entry->label_names, entry->gauge->children_);
        break;
      }
      case MetricType::kHistogram: {
        absl::MutexLock family_lock(&entry->histogram->mu_);
        for (const auto& [values, child] : entry->histogram->children_) {
          Histogram::Snapshot s = child->GetSnapshot();
          for (size_t i = 0; i <= s.bounds.size(); ++i) {
            std::string le = i < s.bounds.size() ? FormatMetricValue(s.bounds[i]) : "+Inf";
            absl::StrAppend(&out, name, "_bucket", LabelText(entry->label_names, values, "le", le),
                            " ", s.cumulative_counts[i], "\n");
          }
          const std::string labels = LabelText(entry->label_names, values);
          absl::StrAppend(&out, name, "_sum", labels, " ", FormatMetricValue(s.sum), "\n");
          absl::StrAppend(&out, name, "_count", labels, " ", s.count, "\n");
        }
        break;
      }
    }
  }
  return out;
}

}  // namespace tessera
