#include "services/common/config_sources.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/env.h"
#include "base/logging.h"
#include "services/common/grpc_log_bridge.h"

ABSL_FLAG(std::string, config, "",
          "Config file of `name = value` lines (names as the flags, without --); environment "
          "variables (TESSERA_DATA_DIR for --data_dir) override it and the command line "
          "overrides both. Default: "
          "the TESSERA_CONFIG environment variable.");
namespace tessera::services {

// --log_level and --log_format as typed flags, so a bad value fails while parsing, named with
// its source like any other (absl finds these functions by argument-dependent lookup).
struct LogLevelSetting {
  LogLevel level = LogLevel::kInfo;
};
struct LogFormatSetting {
  LogFormat format = LogFormat::kText;
};

bool AbslParseFlag(absl::string_view text, LogLevelSetting* out, std::string* error) {
  absl::StatusOr<LogLevel> level = ParseLogLevel(text);
  if (!level.ok()) {
    *error = std::string(level.status().message());
    return false;
  }
  out->level = *level;
  return true;
}

std::string AbslUnparseFlag(LogLevelSetting s) { return std::string(LogLevelName(s.level)); }

bool AbslParseFlag(absl::string_view text, LogFormatSetting* out, std::string* error) {
  absl::StatusOr<LogFormat> format = ParseLogFormat(text);
  if (!format.ok()) {
    *error = std::string(format.status().message());
    return false;
  }
  out->format = *format;
  return true;
}

std::string AbslUnparseFlag(LogFormatSetting s) {
  return s.format == LogFormat::kJson ? "json" : "text";
}

}  // namespace tessera::services

ABSL_FLAG(tessera::services::LogLevelSetting, log_level, {},
          "Minimum level of log events: debug, info, warning or error.");
ABSL_FLAG(tessera::services::LogFormatSetting, log_format, {},
          "Log line format: text (logfmt key=value) or json (one JSON object per line).");

namespace tessera::services {
namespace {

constexpr absl::string_view kConfigFlag = "config";

// The value as it may appear in a message: quoted and escaped to one line, or withheld.
std::string Shown(absl::string_view name, absl::string_view value) {
  if (IsSecretSetting(name)) return "(value not shown)";
  return absl::StrCat("\"", absl::CHexEscape(value), "\"");
}

// Applies one setting; `origin` says where it came from ("command line", "FILE:LINE",
// "environment variable TESSERA_X").
absl::Status SetFlag(absl::string_view name, absl::string_view value, absl::string_view origin) {
  absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
  if (flag == nullptr || !IsTesseraFlag(*flag)) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": unknown flag --", name));
  }
  std::string error;
  if (!flag->ParseFrom(value, &error)) {
    // absl's error repeats the value: left out for secrets, escaped to one line otherwise.
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ": bad value ", Shown(name, value), " for --", name,
                     IsSecretSetting(name) ? "" : absl::StrCat(": ", absl::CHexEscape(error))));
  }
  return absl::OkStatus();
}

struct Setting {
  std::string name;
  std::string value;
  std::string origin;
};

// Splits the command line into settings and positional arguments.
absl::Status SplitCommandLine(const std::vector<std::string>& args, std::vector<Setting>* settings,
                              ParsedArgs* parsed) {
  constexpr absl::string_view kOrigin = "command line";
  for (size_t i = 0; i < args.size(); ++i) {
    absl::string_view a = args[i];
    if (a == "--") {
      parsed->positional.insert(parsed->positional.end(), args.begin() + i + 1, args.end());
      break;
    }
    if (a.size() < 2 || a[0] != '-') {
      parsed->positional.emplace_back(a);
      continue;
    }
    a.remove_prefix(absl::StartsWith(a, "--") ? 2 : 1);
    Setting s{"", "", std::string(kOrigin)};
    if (const size_t eq = a.find('='); eq != absl::string_view::npos) {
      s.name = std::string(a.substr(0, eq));
      s.value = std::string(a.substr(eq + 1));
      settings->push_back(std::move(s));
      continue;
    }
    s.name = std::string(a);
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(s.name);
    if (flag != nullptr && !IsTesseraFlag(*flag)) flag = nullptr;
    if (flag == nullptr && absl::StartsWith(s.name, "no")) {
      absl::CommandLineFlag* negated = absl::FindCommandLineFlag(s.name.substr(2));
      if (negated != nullptr && IsTesseraFlag(*negated) && negated->IsOfType<bool>()) {
        settings->push_back({s.name.substr(2), "false", s.origin});
        continue;
      }
    }
    if (flag == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(kOrigin, ": unknown flag --", s.name));
    }
    if (flag->IsOfType<bool>()) {
      s.value = "true";
    } else if (i + 1 < args.size()) {
      s.value = args[++i];
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(kOrigin, ": flag --", s.name, " needs a value"));
    }
    settings->push_back(std::move(s));
  }
  return absl::OkStatus();
}

// Parses a config file's text into settings named "PATH:LINE".
absl::Status ParseConfigFile(absl::string_view path, absl::string_view text,
                             std::vector<Setting>* settings) {
  std::set<std::string> seen;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    const std::string origin = absl::StrCat(path, ":", line_number);
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    const size_t eq = line.find('=');
    // The line itself is not echoed: it may hold a secret.
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(origin, ": expected `name = value`"));
    }
    std::string name(absl::StripAsciiWhitespace(line.substr(0, eq)));
    absl::string_view value = absl::StripAsciiWhitespace(line.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    if (name.empty()) return absl::InvalidArgumentError(absl::StrCat(origin, ": empty name"));
    if (name == kConfigFlag) {
      return absl::InvalidArgumentError(
          absl::StrCat(origin, ": --config cannot be set in a config file"));
    }
    if (!seen.insert(name).second) {
      return absl::InvalidArgumentError(absl::StrCat(origin, ": --", name, " given twice"));
    }
    settings->push_back({std::move(name), std::string(value), origin});
  }
  return absl::OkStatus();
}

// Tessera's flags by name (sorted, so the environment is applied in a stable order).
std::map<std::string, absl::CommandLineFlag*> TesseraFlags() {
  std::map<std::string, absl::CommandLineFlag*> out;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (IsTesseraFlag(*flag)) out.emplace(std::string(name), flag);
  }
  return out;
}

}  // namespace

ConfigEnvironment ConfigEnvironment::Process() {
  ConfigEnvironment env;
  env.getenv = [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
  env.read_file = [](const std::string& path) { return ReadFileToString(Env::Default(), path); };
  return env;
}

bool IsTesseraFlag(const absl::CommandLineFlag& flag) {
  const std::string filename = flag.Filename();  // returned by value
  absl::string_view file = filename;
  if (absl::StartsWith(file, "./")) file.remove_prefix(2);
  for (absl::string_view dir : {"services/", "base/", "p2p/", "storage/"}) {
    if (absl::StartsWith(file, dir)) return true;
  }
  return false;
}

std::string EnvVarName(absl::string_view flag_name) {
  return absl::StrCat("TESSERA_", absl::AsciiStrToUpper(flag_name));
}

bool IsSecretSetting(absl::string_view flag_name) {
  const std::string name = absl::AsciiStrToLower(flag_name);
  for (absl::string_view word : {"secret", "key", "password", "token", "credential"}) {
    if (absl::StrContains(name, word)) return true;
  }
  return false;
}

absl::StatusOr<ParsedArgs> ApplyConfigSources(const std::vector<std::string>& args,
                                              const ConfigEnvironment& env) {
  ParsedArgs parsed;
  for (const std::string& a : args) {
    if (a == "--") break;
    if (a == "--help" || a == "-help" || a == "--helpfull" || a == "-helpfull" || a == "-h") {
      parsed.help = true;
      return parsed;
    }
  }
  std::vector<Setting> command_line;
  if (absl::Status s = SplitCommandLine(args, &command_line, &parsed); !s.ok()) return s;

  // 1. The config file: the last --config on the command line, else $TESSERA_CONFIG.
  std::string config_path;
  std::string config_origin;
  if (std::optional<std::string> v = env.getenv(EnvVarName(kConfigFlag)); v && !v->empty()) {
    config_path = *v;
    config_origin = absl::StrCat("environment variable ", EnvVarName(kConfigFlag));
  }
  for (const Setting& s : command_line) {
    if (s.name == kConfigFlag) {
      config_path = s.value;
      config_origin = s.origin;
    }
  }
  if (!config_path.empty()) {
    if (absl::Status s = SetFlag(kConfigFlag, config_path, config_origin); !s.ok()) return s;
    absl::StatusOr<std::string> text = env.read_file(config_path);
    if (!text.ok()) {
      return absl::Status(text.status().code(),
                          absl::StrCat(config_origin, ": cannot read --config ", config_path, ": ",
                                       text.status().message()));
    }
    std::vector<Setting> file;
    if (absl::Status s = ParseConfigFile(config_path, *text, &file); !s.ok()) return s;
    for (const Setting& f : file) {
      if (absl::Status s = SetFlag(f.name, f.value, f.origin); !s.ok()) return s;
    }
  }

  // 2. The environment.
  for (const auto& [name, flag] : TesseraFlags()) {
    if (name == kConfigFlag) continue;
    const std::string var = EnvVarName(name);
    std::optional<std::string> v = env.getenv(var);
    if (!v || v->empty()) continue;
    if (absl::Status s = SetFlag(name, *v, absl::StrCat("environment variable ", var)); !s.ok()) {
      return s;
    }
  }

  // 3. The command line.
  for (const Setting& s : command_line) {
    if (s.name == kConfigFlag) continue;
    if (absl::Status st = SetFlag(s.name, s.value, s.origin); !st.ok()) return st;
  }
  return parsed;
}

std::string HelpText(absl::string_view usage) {
  std::string out(usage.empty() ? absl::ProgramUsageMessage() : usage);
  absl::StrAppend(&out,
                  "\n\nEvery flag can also be set in the --config file (`name = value`) or "
                  "as an environment variable (shown); the command line wins over the "
                  "environment, which wins over the file. See docs/configuration.md.\n");
  std::map<std::string, std::vector<absl::CommandLineFlag*>> by_file;
  for (const auto& [name, flag] : TesseraFlags()) by_file[flag->Filename()].push_back(flag);
  for (const auto& [file, flags] : by_file) {
    absl::StrAppend(&out, "\n  Flags from ", file, ":\n");
    for (const absl::CommandLineFlag* flag : flags) {
      absl::StrAppend(&out, "    --", flag->Name(), " (", flag->Help(), "); default: \"",
                      absl::CHexEscape(flag->DefaultValue()), "\"; env: ", EnvVarName(flag->Name()),
                      ";\n");
    }
  }
  return out;
}

void ApplyLogFlags() {
  SetLogLevel(absl::GetFlag(FLAGS_log_level).level);
  SetLogFormat(absl::GetFlag(FLAGS_log_format).format);
  RouteGrpcLogsToTesseraLog();
}

std::vector<std::string> ParseFlagsOrExit(int argc, char** argv, absl::string_view program,
                                          bool allow_positional) {
  auto fail = [&](absl::string_view message) {
    std::fprintf(stderr, "%s: %s\n", std::string(program).c_str(), std::string(message).c_str());
    std::exit(2);
  };
  std::vector<std::string> args(argv + std::min(argc, 1), argv + argc);
  absl::StatusOr<ParsedArgs> parsed = ApplyConfigSources(args, ConfigEnvironment::Process());
  if (!parsed.ok()) fail(parsed.status().message());
  if (parsed->help) {
    std::fputs(HelpText().c_str(), stdout);
    std::exit(0);
  }
  if (!allow_positional && !parsed->positional.empty()) {
    fail(absl::StrCat("unexpected argument \"", absl::CHexEscape(parsed->positional[0]), "\""));
  }
  ApplyLogFlags();
  return std::move(parsed->positional);
}

}  // namespace tessera::services
