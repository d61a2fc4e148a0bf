// Structured, levelled logging: one line per event, `key=value` fields (logfmt style).
//
//   TESSERA_LOG(INFO, "slice_put").Field("id", id).Field("bytes", n);
//   TESSERA_LOG(WARNING, "peer_timeout").Field("peer", addr).Field("after", absl::Seconds(3));
//   TESSERA_LOG(ERROR, "index_write_failed").Field("status", status);
//
// emits (to the sink, default stderr):
//
//   ts=2026-11-25T13:22:42.123456Z level=info event=slice_put id=ab12 bytes=4096 src=store.cc:88
//
// Format: fields are separated by single spaces; the fixed fields come first (ts, level, event),
// then the caller's fields in call order, then src=<file basename>:<line>. A value is written
// bare when it is non-empty and consists only of printable ASCII other than space, '"', '=' and
// '\\'; otherwise it is double-quoted with \" \\ \n \r \t and \xNN escapes, so a line never spans
// two lines and splits unambiguously. Keys are restricted to [A-Za-z0-9_.-] (other characters
// become '_'). NEVER log keys, secrets or plaintext object data.
//
// JSON (SetLogFormat(LogFormat::kJson); the daemons' --log_format=json) writes the same event as
// one JSON object per line, every value a string, in the same order:
//
//   {"ts":"2026-11-25T13:22:42.123456Z","level":"info","msg":"slice_put","id":"ab12",
//    "bytes":"4096","src":"store.cc:88"}
//
// (one line; wrapped here). The event name is "msg". Strings are escaped per RFC 8259 (\" \\ \n
// \r \t \b \f, other control bytes and DEL as \u00XX); valid UTF-8 passes through, and a value
// that is not valid UTF-8 has each byte >= 0x80 written as \u00XX, so a line is always valid JSON.
// A caller's key equal to a fixed one (ts, level, msg, src) gets a trailing '_' so no key repeats.
//
// Levels: DEBUG < INFO < WARNING < ERROR. Events below the runtime level (SetLogLevel; default
// INFO) cost one relaxed atomic load: their Field arguments are not evaluated.
//
// Thread-safety: everything here is thread-safe. Each line reaches the sink whole, in one call,
// under a lock, so lines from different threads never interleave.
#pragma once

#include <atomic>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"

namespace tessera {

enum class LogLevel : int { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// "debug", "info", "warning", "error".
absl::string_view LogLevelName(LogLevel level);
// Parses a level name (case-insensitive; "warn" accepted). INVALID_ARGUMENT otherwise.
absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name);

enum class LogFormat : int { kText = 0, kJson = 1 };

// Parses "text" or "json" (case-insensitive). INVALID_ARGUMENT otherwise.
absl::StatusOr<LogFormat> ParseLogFormat(absl::string_view name);
// Sets / reads the format of events started from now on (default kText).
void SetLogFormat(LogFormat format);
LogFormat GetLogFormat();

// Receives finished lines (without the trailing newline). Implementations must be thread-safe
// or rely on the logging lock: Write is only ever called with that lock held.
class LogSink {
 public:
  virtual ~LogSink() = default;
  virtual void Write(LogLevel level, absl::string_view line) = 0;
};

// Sets / reads the minimum level that is emitted.
void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
// True when events at `level` are emitted.
bool ShouldLog(LogLevel level);

// Installs `sink` (not owned; must outlive its use; nullptr = the default stderr sink) and
// returns the previous one (nullptr if it was the default).
LogSink* SetLogSink(LogSink* sink);
// Installs `clock` (not owned; nullptr = Clock::Real()) for timestamps. For deterministic tests.
void SetLogClock(Clock* clock);

// Escapes `value` for a log line per the rules above (bare or quoted).
std::string LogQuote(absl::string_view value);
// `value` as a JSON string literal (with the quotes), escaped per the rules above.
std::string LogJsonQuote(absl::string_view value);

// A sink that keeps lines in memory, for tests.
class CapturingLogSink final : public LogSink {
 public:
  void Write(LogLevel level, absl::string_view line) override;
  std::vector<std::string> lines() const;
  void Clear();

 private:
  mutable absl::Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
};

// Installs a sink (and optionally a level) for the lifetime of the object and restores the
// previous ones afterwards.
class ScopedLogSink {
 public:
  explicit ScopedLogSink(LogSink* sink);
  ScopedLogSink(LogSink* sink, LogLevel level);
  ~ScopedLogSink();
  ScopedLogSink(const ScopedLogSink&) = delete;
  ScopedLogSink& operator=(const ScopedLogSink&) = delete;

 private:
  LogSink* previous_sink_;
  LogLevel previous_level_;
};

// One event being built; written to the sink when destroyed (end of the TESSERA_LOG statement).
class LogEvent {
 public:
  LogEvent(LogLevel level, const char* file, int line, absl::string_view event);
  ~LogEvent();
  LogEvent(const LogEvent&) = delete;
  LogEvent& operator=(const LogEvent&) = delete;

  // Adds `key=value`. Accepts strings, integers, floating point, bool, absl::Status (written as
  // "CODE: message"), absl::Duration, absl::Time and anything absl::StrCat accepts.
  template <typename T>
  LogEvent& Field(absl::string_view key, const T& value) {
    if constexpr (std::is_same_v<T, bool>) {
      AddField(key, value ? "true" : "false");
    } else if constexpr (std::is_pointer_v<T> || std::is_array_v<T>) {
      static_assert(std::is_convertible_v<const T&, const char*>, "only C strings");
      const char* s = value;
      AddField(key, s == nullptr ? absl::string_view("(null)") : absl::string_view(s));
    } else if constexpr (std::is_convertible_v<const T&, absl::string_view>) {
      AddField(key, absl::string_view(value));
    } else if constexpr (std::is_same_v<T, absl::Status>) {
      AddField(key, value.ToString());
    } else if constexpr (std::is_same_v<T, absl::Duration>) {
      AddField(key, absl::FormatDuration(value));
    } else if constexpr (std::is_same_v<T, absl::Time>) {
      AddField(key, absl::FormatTime(absl::RFC3339_full, value, absl::UTCTimeZone()));
    } else {
      AddField(key, absl::StrCat(value));
    }
    return *this;
  }

 private:
  void AddField(absl::string_view key, absl::string_view value);

  const LogLevel level_;
  const LogFormat format_;
  const char* const file_;
  const int line_;
  std::string text_;
};

namespace log_internal {
constexpr LogLevel kDEBUG = LogLevel::kDebug;
constexpr LogLevel kINFO = LogLevel::kInfo;
constexpr LogLevel kWARNING = LogLevel::kWarning;
constexpr LogLevel kERROR = LogLevel::kError;
}  // namespace log_internal

}  // namespace tessera

// TESSERA_LOG(LEVEL, "event_name") with LEVEL one of DEBUG, INFO, WARNING, ERROR; chain
// .Field(key, value) calls. A `for` (not an `if`) gates it, so it is safe in unbraced if/else.
#define TESSERA_LOG(level, event)                                                      \
  for (bool tessera_log_on_ = ::tessera::ShouldLog(::tessera::log_internal::k##level); \
       tessera_log_on_; tessera_log_on_ = false)                                       \
  ::tessera::LogEvent(::tessera::log_internal::k##level, __FILE__, __LINE__, (event))
