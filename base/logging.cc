#include "base/logging.h"

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/utf8.h"

namespace tessera {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<int> g_format{static_cast<int>(LogFormat::kText)};

class StderrSink final : public LogSink {
 public:
  void Write(LogLevel, absl::string_view line) override {
    std::string out = absl::StrCat(line, "\n");
    std::fwrite(out.data(), 1, out.size(), stderr);
    std::fflush(stderr);
  }
};

struct SinkState {
  absl::Mutex mu;
  LogSink* sink ABSL_GUARDED_BY(mu) = nullptr;  // nullptr = stderr
  Clock* clock ABSL_GUARDED_BY(mu) = nullptr;   // nullptr = Clock::Real()
};

SinkState& State() {
  static SinkState* const state = new SinkState();
  return *state;
}

LogSink* StderrSinkInstance() {
  static LogSink* const sink = new StderrSink();
  return sink;
}

bool IsBareChar(unsigned char c) {
  return c > 0x20 && c < 0x7f && c != '"' && c != '=' && c != '\\';
}

bool IsKeyChar(char c) { return absl::ascii_isalnum(c) || c == '_' || c == '.' || c == '-'; }

absl::string_view Basename(const char* file) {
  absl::string_view f(file == nullptr ? "" : file);
  size_t slash = f.find_last_of('/');
  return slash == absl::string_view::npos ? f : f.substr(slash + 1);
}

}  // namespace

absl::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "unknown";
}

absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name) {
  std::string n = absl::AsciiStrToLower(name);
  if (n == "debug") return LogLevel::kDebug;
  if (n == "info") return LogLevel::kInfo;
  if (n == "warning" || n == "warn") return LogLevel::kWarning;
  if (n == "error") return LogLevel::kError;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown log level \"", name, "\" (want debug, info, warning or error)"));
}

absl::StatusOr<LogFormat> ParseLogFormat(absl::string_view name) {
  std::string n = absl::AsciiStrToLower(name);
  if (n == "text") return LogFormat::kText;
  if (n == "json") return LogFormat::kJson;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown log format \"", name, "\" (want text or json)"));
}

void SetLogFormat(LogFormat format) {
  g_format.store(static_cast<int>(format), std::memory_order_relaxed);
}

LogFormat GetLogFormat() {
  return static_cast<LogFormat>(g_format.load(std::memory_order_relaxed));
}

void SetLogLevel(LogLevel level) {
  g_level.store(static_cast<int>(level), std::memory_order_relaxed);
}

LogLevel GetLogLevel() { return static_cast<LogLevel>(g_level.load(std::memory_order_relaxed)); }

bool ShouldLog(LogLevel level) {
  return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

LogSink* SetLogSink(LogSink* sink) {
  SinkState& state = State();
  absl::MutexLock lock(&state.mu);
  LogSink* previous = state.sink;
  state.sink = sink;
  return previous;
}

void SetLogClock(Clock* clock) {
  SinkState& state = State();
  absl::MutexLock lock(&state.mu);
  state.clock = clock;
}

std::string LogQuote(absl::string_view value) {
  bool bare = !value.empty();
  for (char c : value) {
    if (!IsBareChar(static_cast<unsigned char>(c))) {
      bare = false;
      break;
    }
  }
  if (bare) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
          absl::StrAppendFormat(&out, "\\x%02x", static_cast<unsigned char>(c));
        } else {
          out.push_back(c);
        }
    }
  }
  out += "\"";
  return out;
}

std::string LogJsonQuote(absl::string_view value) {
  // Valid UTF-8 is kept as is (JSON text is UTF-8); otherwise every non-ASCII byte is escaped so
  // the line stays valid JSON.
  const bool utf8 = IsValidUtf8(value);
  std::string out = "\"";
  out.reserve(value.size() + 2);
  for (char c : value) {
    const unsigned char u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (u < 0x20 || u == 0x7f || (u >= 0x80 && !utf8)) {
          absl::StrAppendFormat(&out, "\\u%04x", u);
        } else {
          out.push_back(c);
        }
    }
  }
  out += "\"";
  return out;
}

void CapturingLogSink::Write(LogLevel, absl::string_view line) {
  absl::MutexLock lock(&mu_);
  lines_.emplace_back(line);
}

std::vector<std::string> CapturingLogSink::lines() const {
  absl::MutexLock lock(&mu_);
  return lines_;
}

void CapturingLogSink::Clear() {
  absl::MutexLock lock(&mu_);
  lines_.clear();
}

ScopedLogSink::ScopedLogSink(LogSink* sink)
    : previous_sink_(SetLogSink(sink)), previous_level_(GetLogLevel()) {}

ScopedLogSink::ScopedLogSink(LogSink* sink, LogLevel level) : ScopedLogSink(sink) {
  SetLogLevel(level);
}

ScopedLogSink::~ScopedLogSink() {
  SetLogSink(previous_sink_);
  SetLogLevel(previous_level_);
}

LogEvent::LogEvent(LogLevel level, const char* file, int line, absl::string_view event)
    : level_(level), format_(GetLogFormat()), file_(file), line_(line) {
  text_.reserve(128);
  if (format_ == LogFormat::kJson) {
    absl::StrAppend(&text_, ",\"level\":\"", LogLevelName(level),
                    "\",\"msg\":", LogJsonQuote(event));
  } else {
    absl::StrAppend(&text_, " level=", LogLevelName(level), " event=", LogQuote(event));
  }
}

void LogEvent::AddField(absl::string_view key, absl::string_view value) {
  std::string k;
  if (key.empty()) {
    k = "_";
  } else {
    for (char c : key) k.push_back(IsKeyChar(c) ? c : '_');
  }
  if (format_ == LogFormat::kJson) {
    if (k == "ts" || k == "level" || k == "msg" || k == "src") k.push_back('_');
    absl::StrAppend(&text_, ",\"", k, "\":", LogJsonQuote(value));  // keys need no escaping
  } else {
    absl::StrAppend(&text_, " ", k, "=", LogQuote(value));
  }
}

LogEvent::~LogEvent() {
  const std::string src = absl::StrCat(Basename(file_), ":", line_);
  const bool json = format_ == LogFormat::kJson;
  absl::StrAppend(&text_, json ? ",\"src\":" : " src=", json ? LogJsonQuote(src) : LogQuote(src),
                  json ? "}" : "");
  SinkState& state = State();
  absl::MutexLock lock(&state.mu);
  Clock* clock = state.clock != nullptr ? state.clock : Clock::Real();
  const std::string ts =
      absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", clock->Now(), absl::UTCTimeZone());
  std::string line =
      json ? absl::StrCat("{\"ts\":\"", ts, "\"", text_) : absl::StrCat("ts=", ts, text_);
  LogSink* sink = state.sink != nullptr ? state.sink : StderrSinkInstance();
  sink->Write(level_, line);
}

}  // namespace tessera
