#include "base/grpc_status.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/wire_format_lite.h"

namespace tessera {
namespace {

using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::ArrayInputStream;
using google::protobuf::io::CodedInputStream;
using google::protobuf::io::CodedOutputStream;
using google::protobuf::io::StringOutputStream;

// Field numbers of google.rpc.Status and google.protobuf.Any (wire-compatible with both, so
// standard tools decode our trailer).
constexpr int kStatusCode = 1;
constexpr int kStatusMessage = 2;
constexpr int kStatusDetails = 3;
constexpr int kAnyTypeUrl = 1;
constexpr int kAnyValue = 2;

uint32_t Tag(int field, WireFormatLite::WireType type) {
  return WireFormatLite::MakeTag(field, type);
}

void WriteBytes(CodedOutputStream* out, int field, absl::string_view bytes) {
  out->WriteTag(Tag(field, WireFormatLite::WIRETYPE_LENGTH_DELIMITED));
  out->WriteVarint32(static_cast<uint32_t>(bytes.size()));
  out->WriteRaw(bytes.data(), static_cast<int>(bytes.size()));
}

std::string EncodeAny(absl::string_view type_url, absl::string_view value) {
  std::string any;
  {
    StringOutputStream stream(&any);
    CodedOutputStream out(&stream);
    WriteBytes(&out, kAnyTypeUrl, type_url);
    WriteBytes(&out, kAnyValue, value);
  }
  return any;
}

// google.rpc.Status for `status`, or "" when it has no payloads (nothing worth a trailer).
std::string EncodeDetails(const absl::Status& status) {
  std::vector<std::string> anys;
  status.ForEachPayload([&anys](absl::string_view url, const absl::Cord& payload) {
    anys.push_back(EncodeAny(url, std::string(payload)));
  });
  if (anys.empty()) return "";
  std::string encoded;
  {
    StringOutputStream stream(&encoded);
    CodedOutputStream out(&stream);
    out.WriteTag(Tag(kStatusCode, WireFormatLite::WIRETYPE_VARINT));
    out.WriteVarint32(static_cast<uint32_t>(status.code()));
    WriteBytes(&out, kStatusMessage, status.message());
    for (const std::string& any : anys) WriteBytes(&out, kStatusDetails, any);
  }
  return encoded;
}

// Reads one length-delimited field's bytes into `out`.
bool ReadBytes(CodedInputStream* in, std::string* out) {
  uint32_t size = 0;
  return in->ReadVarint32(&size) && in->ReadString(out, static_cast<int>(size));
}

// Skips a field this decoder does not use (unknown fields are allowed, as in protobuf).
bool Skip(CodedInputStream* in, uint32_t tag) { return WireFormatLite::SkipField(in, tag); }

bool DecodeAny(absl::string_view bytes, std::string* type_url, std::string* value) {
  ArrayInputStream stream(bytes.data(), static_cast<int>(bytes.size()));
  CodedInputStream in(&stream);
  while (uint32_t tag = in.ReadTag()) {
    const int field = WireFormatLite::GetTagFieldNumber(tag);
    const bool delimited =
        WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
    if (field == kAnyTypeUrl && delimited) {
      if (!ReadBytes(&in, type_url)) return false;
    } else if (field == kAnyValue && delimited) {
      if (!ReadBytes(&in, value)) return false;
    } else if (!Skip(&in, tag)) {
      return false;
    }
  }
  return in.ConsumedEntireMessage() && !type_url->empty();
}

// The payloads in `details` (a google.rpc.Status), or nothing if it does not parse.
std::vector<std::pair<std::string, std::string>> DecodeDetails(absl::string_view details) {
  std::vector<std::pair<std::string, std::string>> payloads;
  ArrayInputStream stream(details.data(), static_cast<int>(details.size()));
  CodedInputStream in(&stream);
  while (uint32_t tag = in.ReadTag()) {
    const int field = WireFormatLite::GetTagFieldNumber(tag);
    const bool delimited =
        WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
    if (field == kStatusDetails && delimited) {
      std::string any, type_url, value;
      if (!ReadBytes(&in, &any) || !DecodeAny(any, &type_url, &value)) return {};
      payloads.emplace_back(std::move(type_url), std::move(value));
    } else if (!Skip(&in, tag)) {
      return {};
    }
  }
  if (!in.ConsumedEntireMessage()) return {};
  return payloads;
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()),
                      EncodeDetails(status));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  absl::Status out(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  for (auto& [url, value] : DecodeDetails(status.error_details())) {
    out.SetPayload(url, absl::Cord(std::move(value)));
  }
  return out;
}

}  // namespace tessera
