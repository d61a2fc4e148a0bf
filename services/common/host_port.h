// Parsing of "host:port" listen addresses shared by Tessera's daemons.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tessera::services {

struct HostPort {
  std::string host;   // a name or IPv4 address, or an IPv6 address without brackets
  uint16_t port = 0;  // 0 = let the kernel pick
};

// Parses "host:port" or "[v6]:port". INVALID_ARGUMENT (naming the text) for a missing host, a
// missing or non-numeric port, or a port over 65535.
[[nodiscard]] absl::StatusOr<HostPort> ParseHostPort(absl::string_view text);

// "host:port", bracketing IPv6 hosts.
std::string FormatHostPort(absl::string_view host, uint16_t port);

}  // namespace tessera::services
