#include "base/logging.h"

#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/fake_clock.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tessera {
namespace {

using ::tessera::testing::IsOkAndHolds;
using ::tessera::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::Pair;
using ::testing::SizeIs;
using ::testing::StartsWith;

// Parses one logfmt line into ordered (key, value) pairs, undoing LogQuote's escapes. Fails the
// test on malformed input.
std::vector<std::pair<std::string, std::string>> ParseLine(const std::string& line) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t i = 0;
  while (i < line.size()) {
    size_t eq = line.find('=', i);
    EXPECT_NE(eq, std::string::npos) << "no '=' in " << line.substr(i);
    if (eq == std::string::npos) return out;
    std::string key = line.substr(i, eq - i);
    EXPECT_EQ(key.find(' '), std::string::npos) << key;
    i = eq + 1;
    std::string value;
    if (i < line.size() && line[i] == '"') {
      ++i;
      bool closed = false;
      while (i < line.size()) {
        char c = line[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c != '\\') {
          value.push_back(c);
          continue;
        }
        EXPECT_LT(i, line.size()) << "dangling backslash";
        char e = line[i++];
        switch (e) {
          case 'n':
            value.push_back('\n');
            break;
          case 'r':
            value.push_back('\r');
            break;
          case 't':
            value.push_back('\t');
            break;
          case 'x':
            value.push_back(static_cast<char>(std::stoi(line.substr(i, 2), nullptr, 16)));
            i += 2;
            break;
          default:
            value.push_back(e);
        }
      }
      EXPECT_TRUE(closed) << "unterminated quote in " << line;
    } else {
      size_t sp = line.find(' ', i);
      if (sp == std::string::npos) sp = line.size();
      value = line.substr(i, sp - i);
      EXPECT_FALSE(value.empty()) << "bare empty value in " << line;
      i = sp;
    }
    out.emplace_back(std::move(key), std::move(value));
    if (i < line.size()) {
      EXPECT_EQ(line[i], ' ') << "fields must be separated by one space: " << line;
      ++i;
    }
  }
  return out;
}

std::map<std::string, std::string> Fields(const std::string& line) {
  std::map<std::string, std::string> m;
  for (auto& [k, v] : ParseLine(line)) m[k] = v;
  return m;
}

class LoggingTest : public ::testing::Test {
 protected:
  LoggingTest() : clock_(absl::FromUnixMicros(1764077000123456)), scoped_(&sink_, LogLevel::kInfo) {
    SetLogClock(&clock_);
  }
  ~LoggingTest() override { SetLogClock(nullptr); }

  FakeClock clock_;
  CapturingLogSink sink_;
  ScopedLogSink scoped_;
};

TEST_F(LoggingTest, OneLinePerEventWithFixedFieldsFirst) {
  const int line = __LINE__ + 1;
  TESSERA_LOG(INFO, "slice_put").Field("id", "ab12").Field("bytes", 4096);
  ASSERT_THAT(sink_.lines(), SizeIs(1));
  const std::string text = sink_.lines()[0];
  EXPECT_EQ(text.find('\n'), std::string::npos);
  EXPECT_THAT(ParseLine(text),
              ElementsAre(Pair("ts", "2025-11-25T13:23:20.123456Z"), Pair("level", "info"),
                          Pair("event", "slice_put"), Pair("id", "ab12"), Pair("bytes", "4096"),
                          Pair("src", absl::StrCat("logging_test.cc:", line))));
}

TEST_F(LoggingTest, ValueTypes) {
  TESSERA_LOG(WARNING, "types")
      .Field("b", true)
      .Field("f", false)
      .Field("neg", -7)
      .Field("u64", uint64_t{18446744073709551615u})
      .Field("d", 2.5)
      .Field("s", std::string("str"))
      .Field("sv", absl::string_view("view"))
      .Field("cstr", static_cast<const char*>(nullptr))
      .Field("status", absl::NotFoundError("slice 7 missing"))
      .Field("ok", absl::OkStatus())
      .Field("dur", absl::Milliseconds(1500))
      .Field("when", absl::FromUnixSeconds(0));
  auto f = Fields(sink_.lines().at(0));
  EXPECT_EQ(f["level"], "warning");
  EXPECT_EQ(f["b"], "true");
  EXPECT_EQ(f["f"], "false");
  EXPECT_EQ(f["neg"], "-7");
  EXPECT_EQ(f["u64"], "18446744073709551615");
  EXPECT_EQ(f["d"], "2.5");
  EXPECT_EQ(f["s"], "str");
  EXPECT_EQ(f["sv"], "view");
  EXPECT_EQ(f["cstr"], "(null)");
  EXPECT_EQ(f["status"], "NOT_FOUND: slice 7 missing");
  EXPECT_EQ(f["ok"], "OK");
  EXPECT_EQ(f["dur"], "1.5s");
  EXPECT_EQ(f["when"], "1970-01-01T00:00:00+00:00");
}

TEST_F(LoggingTest, QuotingRoundTripsAwkwardValues) {
  const std::vector<std::string> values = {
      "",         "two words",    "say \"hi\"", "back\\slash",
      "a=b",      "line1\nline2", "tab\there",  std::string("nul\0byte", 8),
      "\x7f\x01", "caf\xc3\xa9",  "trailing ",  "plain-value_1.2"};
  for (size_t i = 0; i < values.size(); ++i) {
    TESSERA_LOG(INFO, "q").Field("v", values[i]);
  }
  auto lines = sink_.lines();
  ASSERT_EQ(lines.size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(lines[i].find('\n'), std::string::npos);
    EXPECT_EQ(Fields(lines[i])["v"], values[i]) << lines[i];
  }
  EXPECT_EQ(LogQuote("plain-value_1.2"), "plain-value_1.2");
  EXPECT_EQ(LogQuote("two words"), "\"two words\"");
  EXPECT_EQ(LogQuote(""), "\"\"");
  EXPECT_EQ(LogQuote("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
}

TEST_F(LoggingTest, EventNamesAndKeysAreSanitised) {
  TESSERA_LOG(INFO, "odd event").Field("bad key=x", 1).Field("", 2);
  auto parsed = ParseLine(sink_.lines().at(0));
  ASSERT_THAT(parsed, SizeIs(6));
  EXPECT_THAT(parsed[2], Pair("event", "odd event"));
  EXPECT_THAT(parsed[3], Pair("bad_key_x", "1"));
  EXPECT_THAT(parsed[4], Pair("_", "2"));
}

TEST_F(LoggingTest, LevelFilterSkipsEventsAndTheirArguments) {
  int evaluated = 0;
  auto count = [&evaluated]() { return ++evaluated; };
  TESSERA_LOG(DEBUG, "hidden").Field("n", count());
  EXPECT_EQ(evaluated, 0);
  EXPECT_THAT(sink_.lines(), SizeIs(0));
  EXPECT_FALSE(ShouldLog(LogLevel::kDebug));

  SetLogLevel(LogLevel::kDebug);
  EXPECT_EQ(GetLogLevel(), LogLevel::kDebug);
  TESSERA_LOG(DEBUG, "shown").Field("n", count());
  EXPECT_EQ(evaluated, 1);

  SetLogLevel(LogLevel::kError);
  TESSERA_LOG(WARNING, "hidden");
  TESSERA_LOG(ERROR, "shown");
  auto lines = sink_.lines();
  ASSERT_THAT(lines, SizeIs(2));
  EXPECT_EQ(Fields(lines[0])["event"], "shown");
  EXPECT_EQ(Fields(lines[1])["level"], "error");
}

TEST_F(LoggingTest, SafeInUnbracedIfElse) {
  for (int i = 0; i < 2; ++i) {
    if (i == 0)
      TESSERA_LOG(INFO, "then");
    else
      TESSERA_LOG(INFO, "else");
  }
  auto lines = sink_.lines();
  ASSERT_THAT(lines, SizeIs(2));
  EXPECT_EQ(Fields(lines[0])["event"], "then");
  EXPECT_EQ(Fields(lines[1])["event"], "else");
}

TEST_F(LoggingTest, TimestampsFollowTheClock) {
  TESSERA_LOG(INFO, "a");
  clock_.Advance(absl::Seconds(61));
  TESSERA_LOG(INFO, "b");
  auto lines = sink_.lines();
  EXPECT_EQ(Fields(lines[0])["ts"], "2025-11-25T13:23:20.123456Z");
  EXPECT_EQ(Fields(lines[1])["ts"], "2025-11-25T13:24:21.123456Z");
}

TEST_F(LoggingTest, ConcurrentLinesNeverInterleave) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < kPerThread; ++i) {
        TESSERA_LOG(INFO, "tick").Field("thread", t).Field("i", i).Field("pad", "x y z");
      }
    });
  }
  for (auto& th : threads) th.join();
  auto lines = sink_.lines();
  ASSERT_EQ(lines.size(), static_cast<size_t>(kThreads * kPerThread));
  std::map<std::string, int> per_thread;
  for (const auto& line : lines) {
    auto parsed = ParseLine(line);
    ASSERT_THAT(parsed, SizeIs(7)) << line;
    ++per_thread[parsed[3].second];
  }
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(per_thread[absl::StrCat(t)], kPerThread);
}

TEST_F(LoggingTest, ScopedSinkRestoresPrevious) {
  CapturingLogSink inner;
  {
    ScopedLogSink scoped(&inner, LogLevel::kError);
    TESSERA_LOG(ERROR, "inner");
    TESSERA_LOG(INFO, "filtered");
  }
  TESSERA_LOG(INFO, "outer");
  EXPECT_THAT(inner.lines(), SizeIs(1));
  ASSERT_THAT(sink_.lines(), SizeIs(1));
  EXPECT_EQ(Fields(sink_.lines()[0])["event"], "outer");
  EXPECT_EQ(GetLogLevel(), LogLevel::kInfo);
}

// Parses one JSON log line: a flat object of string values, in order, undoing every escape
// LogJsonQuote may write (\uXXXX below 0x100 becomes that byte, as LogJsonQuote writes bytes).
// Fails the test on anything else, so it also checks the line is a well-formed object.
std::vector<std::pair<std::string, std::string>> ParseJsonLine(const std::string& line) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t i = 0;
  auto string_at = [&](std::string* value) -> bool {
    if (i >= line.size() || line[i] != '"') return false;
    ++i;
    while (i < line.size()) {
      const char c = line[i++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return false;  // raw control byte
      if (c != '\\') {
        value->push_back(c);
        continue;
      }
      if (i >= line.size()) return false;
      const char e = line[i++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          value->push_back(e);
          break;
        case 'n':
          value->push_back('\n');
          break;
        case 'r':
          value->push_back('\r');
          break;
        case 't':
          value->push_back('\t');
          break;
        case 'b':
          value->push_back('\b');
          break;
        case 'f':
          value->push_back('\f');
          break;
        case 'u': {
          if (i + 4 > line.size()) return false;
          const unsigned long code = std::stoul(line.substr(i, 4), nullptr, 16);
          if (code > 0xff) return false;
          value->push_back(static_cast<char>(code));
          i += 4;
          break;
        }
        default:
          return false;
      }
    }
    return false;
  };
  EXPECT_TRUE(!line.empty() && line[0] == '{') << line;
  i = 1;
  while (true) {
    std::string key, value;
    if (!string_at(&key) || i >= line.size() || line[i++] != ':' || !string_at(&value)) {
      ADD_FAILURE() << "malformed JSON line at " << i << ": " << line;
      return out;
    }
    out.emplace_back(std::move(key), std::move(value));
    if (i < line.size() && line[i] == ',') {
      ++i;
      continue;
    }
    EXPECT_TRUE(i + 1 == line.size() && line[i] == '}') << "trailing text in " << line;
    return out;
  }
}

class JsonLoggingTest : public LoggingTest {
 protected:
  JsonLoggingTest() { SetLogFormat(LogFormat::kJson); }
  ~JsonLoggingTest() override { SetLogFormat(LogFormat::kText); }
};

TEST_F(JsonLoggingTest, OneObjectPerLineWithTsLevelMsgAndSource) {
  const int line = __LINE__ + 1;
  TESSERA_LOG(WARNING, "slice_put").Field("id", "ab12").Field("bytes", 4096).Field("ok", true);
  ASSERT_THAT(sink_.lines(), SizeIs(1));
  const std::string text = sink_.lines()[0];
  EXPECT_EQ(text.find('\n'), std::string::npos);
  EXPECT_EQ(text, absl::StrCat("{\"ts\":\"2025-11-25T13:23:20.123456Z\",\"level\":\"warning\","
                               "\"msg\":\"slice_put\",\"id\":\"ab12\",\"bytes\":\"4096\","
                               "\"ok\":\"true\",\"src\":\"logging_test.cc:",
                               line, "\"}"));
}

TEST_F(JsonLoggingTest, EscapesQuotesNewlinesAndControlBytes) {
  const std::string awkward[] = {
      "say \"hi\"",
      "back\\slash",
      "two\nlines\r\n",
      "tab\there",
      std::string("nul\0byte", 8),
      "\x01\x08\x0c\x1f\x7f",
      "{\"injected\":\"field\"}",
      "caf\xc3\xa9 \xe2\x82\xac",  // valid UTF-8 passes through
      "bad \xff\xfe utf8",         // invalid: escaped byte by byte
      "",
  };
  for (const std::string& v : awkward) {
    sink_.Clear();
    TESSERA_LOG(INFO, v).Field(v, v);
    ASSERT_THAT(sink_.lines(), SizeIs(1));
    const std::string text = sink_.lines()[0];
    EXPECT_EQ(text.find('\n'), std::string::npos) << text;
    EXPECT_EQ(text.find('\r'), std::string::npos) << text;
    for (unsigned char c : text) EXPECT_TRUE(c >= 0x20 && c != 0x7f) << text;
    auto fields = ParseJsonLine(text);
    ASSERT_THAT(fields, SizeIs(5)) << text;
    EXPECT_EQ(fields[2], std::make_pair(std::string("msg"), v));
    EXPECT_EQ(fields[3].second, v) << text;  // the key is sanitised, the value kept exactly
    EXPECT_EQ(fields[4].first, "src");
  }
  EXPECT_EQ(LogJsonQuote("a\"b\\c\nd\x01\x7f"), "\"a\\\"b\\\\c\\nd\\u0001\\u007f\"");
  EXPECT_EQ(LogJsonQuote("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
  EXPECT_EQ(LogJsonQuote("\xc3"), "\"\\u00c3\"");
}

TEST_F(JsonLoggingTest, CallerKeysNeverRepeatFixedOnes) {
  TESSERA_LOG(INFO, "e").Field("ts", "x").Field("level", "y").Field("msg", "z").Field("src", "w");
  ASSERT_THAT(sink_.lines(), SizeIs(1));
  std::vector<std::string> keys;
  for (const auto& [k, v] : ParseJsonLine(sink_.lines()[0])) keys.push_back(k);
  EXPECT_THAT(keys, ElementsAre("ts", "level", "msg", "ts_", "level_", "msg_", "src_", "src"));
}

TEST_F(JsonLoggingTest, LevelFilterAppliesToJsonToo) {
  SetLogLevel(LogLevel::kWarning);
  TESSERA_LOG(INFO, "hidden");
  TESSERA_LOG(ERROR, "shown");
  ASSERT_THAT(sink_.lines(), SizeIs(1));
  auto fields = ParseJsonLine(sink_.lines()[0]);
  ASSERT_THAT(fields, SizeIs(4));
  EXPECT_EQ(fields[1], std::make_pair(std::string("level"), std::string("error")));
  EXPECT_EQ(fields[2], std::make_pair(std::string("msg"), std::string("shown")));
}

TEST(LogFormatTest, Parse) {
  EXPECT_THAT(ParseLogFormat("text"), IsOkAndHolds(LogFormat::kText));
  EXPECT_THAT(ParseLogFormat("JSON"), IsOkAndHolds(LogFormat::kJson));
  EXPECT_THAT(ParseLogFormat("xml"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(GetLogFormat(), LogFormat::kText);
}

TEST(LogLevelTest, ParseAndName) {
  EXPECT_THAT(ParseLogLevel("INFO"), IsOkAndHolds(LogLevel::kInfo));
  EXPECT_THAT(ParseLogLevel("warn"), IsOkAndHolds(LogLevel::kWarning));
  EXPECT_THAT(ParseLogLevel("Debug"), IsOkAndHolds(LogLevel::kDebug));
  EXPECT_THAT(ParseLogLevel("error"), IsOkAndHolds(LogLevel::kError));
  EXPECT_THAT(ParseLogLevel("loud"), StatusIs(absl::StatusCode::kInvalidArgument));
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning, LogLevel::kError}) {
    EXPECT_THAT(ParseLogLevel(LogLevelName(l)), IsOkAndHolds(l));
  }
}

TEST(LoggingStderrTest, DefaultSinkWritesToStderr) {
  ::testing::internal::CaptureStderr();
  TESSERA_LOG(ERROR, "to_stderr").Field("k", "v");
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(err, StartsWith("ts="));
  EXPECT_EQ(err.back(), '\n');
  EXPECT_EQ(Fields(err.substr(0, err.size() - 1))["k"], "v");
}

}  // namespace
}  // namespace tessera
