#include "api/sdk/client.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "api/gateway.grpc.pb.h"
#include "api/sdk/call_signature.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/support/client_interceptor.h"

namespace tessera::sdk {

class Client::Impl {
 public:
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::Gateway::Stub> stub;
};

namespace {

// Adds the API version to every call made on the channel and, with credentials, signs it for its
// own method (call_signature.h).
class SigningInterceptor final : public grpc::experimental::Interceptor {
 public:
  SigningInterceptor(const ClientOptions* options, std::string method)
      : options_(options), method_(std::move(method)) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->insert(
          {kApiVersionHeader, std::to_string(kGatewayApiVersion)});
    }
    if (!options_->access_key_id.empty() &&
        methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      absl::StatusOr<CallSignature> s =
          SignCall(options_->access_key_id, options_->secret_access_key, method_, absl::Now());
      // Unsigned (the random generator failed, which does not happen): the gateway refuses the
      // call UNAUTHENTICATED rather than this layer failing it some other way.
      if (s.ok()) {
        std::multimap<std::string, std::string>* md = methods->GetSendInitialMetadata();
        md->insert({kCallAccessKeyHeader, s->access_key});
        md->insert({kCallDateHeader, s->date});
        md->insert({kCallNonceHeader, s->nonce});
        md->insert({kCallSignatureHeader, s->signature});
      }
    }
    methods->Proceed();
  }

 private:
  const ClientOptions* const options_;
  const std::string method_;
};

class SigningInterceptorFactory final
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit SigningInterceptorFactory(std::shared_ptr<const ClientOptions> options)
      : options_(std::move(options)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* info) override {
    return new SigningInterceptor(options_.get(), info->method() != nullptr ? info->method() : "");
  }

 private:
  std::shared_ptr<const ClientOptions> options_;
};

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  return ss.str();
}

std::chrono::system_clock::time_point Deadline(absl::Duration d) {
  if (d == absl::InfiniteDuration()) return std::chrono::system_clock::time_point::max();
  return std::chrono::system_clock::now() + absl::ToChronoMilliseconds(d);
}

ObjectInfo FromProto(const v1::ObjectInfo& p) {
  ObjectInfo o;
  o.bucket = p.bucket();
  o.key = p.key();
  o.version_id = p.version_id();
  o.size = p.size();
  o.etag = p.etag();
  o.modified = absl::FromUnixMicros(p.modified_unix_micros());
  o.content_type = p.content_type();
  for (const auto& [k, v] : p.user_metadata()) o.user_metadata[k] = v;
  o.degraded = p.degraded();
  return o;
}

Bucket FromProto(const v1::Bucket& p) {
  Bucket b;
  b.name = p.name();
  b.created = absl::FromUnixMicros(p.created_unix_micros());
  b.owner = p.owner();
  b.acl = p.acl();
  return b;
}

}  // namespace

// Turns a gRPC status into an absl::Status; transport failures name the endpoint.
static absl::Status Convert(const grpc::Status& s, const std::string& endpoint) {
  if (s.ok()) return absl::OkStatus();
  const auto code = static_cast<absl::StatusCode>(s.error_code());
  const std::string& msg = s.error_message();
  if (code == absl::StatusCode::kUnavailable &&
      (absl::StrContains(msg, "connect") || absl::StrContains(msg, "Socket closed") ||
       absl::StrContains(msg, "Connection reset") || absl::StrContains(msg, "DNS"))) {
    return absl::UnavailableError(
        absl::StrCat("cannot reach the Tessera gateway at ", endpoint, " (", msg, ")"));
  }
  if (code == absl::StatusCode::kDeadlineExceeded && msg == "Deadline Exceeded") {
    return absl::DeadlineExceededError(
        absl::StrCat("the gateway at ", endpoint, " did not answer in time"));
  }
  return absl::Status(code, msg);
}

Client::Client(std::string endpoint, ClientOptions options, std::unique_ptr<Impl> impl)
    : endpoint_(std::move(endpoint)), options_(options), impl_(std::move(impl)) {}
Client::~Client() = default;

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(const std::string& endpoint,
                                                        const ClientOptions& options) {
  if (endpoint.empty()) return absl::InvalidArgumentError("empty gateway endpoint");
  if (options.chunk_bytes == 0 || options.chunk_bytes > (1u << 20)) {
    return absl::InvalidArgumentError("chunk_bytes must be 1 .. 1 MiB");
  }
  if (options.access_key_id.empty() != options.secret_access_key.empty()) {
    return absl::InvalidArgumentError(
        "access_key_id and secret_access_key go together (one of them is empty)");
  }
  std::shared_ptr<grpc::ChannelCredentials> transport = grpc::InsecureChannelCredentials();
  if (options.tls || !options.tls_root_certs_file.empty()) {
    grpc::SslCredentialsOptions ssl;
    if (!options.tls_root_certs_file.empty()) {
      absl::StatusOr<std::string> roots = ReadFile(options.tls_root_certs_file);
      if (!roots.ok()) {
        return absl::NotFoundError(
            absl::StrCat("cannot read the TLS root certificates ", options.tls_root_certs_file));
      }
      ssl.pem_root_certs = *std::move(roots);
    }
    transport = grpc::SslCredentials(ssl);
  }
  auto impl = std::make_unique<Impl>();
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize((1 << 20) + (64 << 10));
  // Every call carries the API version; calls are signed when there are credentials.
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> signers;
  signers.push_back(
      std::make_unique<SigningInterceptorFactory>(std::make_shared<const ClientOptions>(options)));
  impl->channel = grpc::experimental::CreateCustomChannelWithInterceptors(endpoint, transport, args,
                                                                          std::move(signers));
  if (!impl->channel->WaitForConnected(Deadline(options.connect_timeout))) {
    return absl::UnavailableError(
        absl::StrCat("cannot connect to the Tessera gateway at ", endpoint, " within ",
                     absl::FormatDuration(options.connect_timeout),
                     " (is it running? start a local one with `tessera dev`)"));
  }
  impl->stub = v1::Gateway::NewStub(impl->channel);
  return std::unique_ptr<Client>(new Client(endpoint, options, std::move(impl)));
}

absl::StatusOr<Bucket> Client::CreateBucket(const std::string& bucket,
                                            const CreateBucketOptions& options) {
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline(options_.timeout));
  v1::CreateBucketRequest req;
  req.set_bucket(bucket);
  req.set_acl(options.acl);
  v1::CreateBucketResponse resp;
  grpc::Status s = impl_->stub->CreateBucket(&ctx, req, &resp);
  if (!s.ok()) return Convert(s, endpoint_);
  return FromProto(resp.bucket());
}

absl::Status Client::DeleteBucket(const std::string& bucket) {
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline(options_.timeout));
  v1::DeleteBucketRequest req;
  req.set_bucket(bucket);
  v1::DeleteBucketResponse resp;
  return Convert(impl_->stub->DeleteBucket(&ctx, req, &resp), endpoint_);
}

absl::StatusOr<Bucket> Client::HeadBucket(const std::string& bucket) {
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline(options_.timeout));
  v1::HeadBucketRequest req;
  req.set_bucket(bucket);
  v1::HeadBucketResponse resp;
  grpc::Status s = impl_->stub->HeadBucket(&ctx, req, &resp);
  if (!s.ok()) return Convert(s, endpoint_);
  return FromProto(resp.bucket());
}

absl::StatusOr<std::vector<Bucket>> Client::ListBuckets() {
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline(options_.timeout));
  v1::ListBucketsResponse resp;
  grpc::Status s = impl_->stub->ListBuckets(&ctx, v1::ListBucketsRequest(), &resp);
  if (!s.ok()) return Convert(s, endpoint_);
  std::vector<Bucket> out;
  for (const v1::Bucket& b : resp.buckets()) out.push_back(FromProto(b));
  return out;
}

absl::StatusOr<ObjectInfo> Client::PutObjectFromReader(const std::string& bucket,
                                                       const std::string& key,
                                                       const ReaderFn& reader, int64_t size,
                                                       const PutOptions& options) {
  if (size < -1) return absl::InvalidArgumentError("size must be >= 0, or -1 when unknown");
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline(options_.transfer_timeout));
  v1::PutObjectResponse resp;
  std::unique_ptr<grpc::ClientWriter<v1::PutObjectRequest>> stream =
      impl_->stub->PutObject(&ctx, &resp);
  v1::PutObjectRequest msg;
  v1::PutObjectRequest::Header* h = msg.mutable_header();
  h->set_bucket(bucket);
  h->set_key(key);
  h->set_content_type(options.content_type);
  for (const auto& [k, v] : options.user_metadata) (*h->mutable_user_metadata())[k] = v;
  h->set_if_none_match(options.if_none_match);
  h->set_if_match(options.if_match);
  h->set_size(size);
  std::string buffer(options_.chunk_bytes, '\0');
  uint64_t done = 0;
  if (options.progress) options.progress(0, size);
  absl::Status local;  // a failure on this side (reader, size mismatch)
  bool server_gone = false;
  while (true) {
    // Fill a whole chunk (readers may return short counts).
    size_t filled = 0;
    bool eof = false;
    while (filled < buffer.size()) {
      absl::StatusOr<size_t> n = reader(buffer.data() + filled, buffer.size() - filled);
      if (!n.ok()) {
        local = n.status();
        break;
      }
      if (*n == 0) {
        eof = true;
        break;
      }
      filled += *n;
    }
    if (!local.ok()) break;
    if (size >= 0 && done + filled > static_cast<uint64_t>(size)) {
      local = absl::InvalidArgumentError(
          absl::StrCat("the source has more than the declared ", size, " bytes"));
      break;
    }
    msg.set_data(buffer.data(), filled);
    msg.set_last(eof);
    if (!stream->Write(msg)) {
      server_gone = true;  // the gateway ended the call; Finish() has its status
      break;
    }
    done += filled;
    if (options.progress && filled > 0) options.progress(done, size);
    msg.Clear();
    if (eof) break;
  }
  if (!local.ok()) {
    ctx.TryCancel();  // the gateway aborts the upload; nothing becomes visible
    (void)stream->Finish();
    return local;
  }
  if (!server_gone) stream->WritesDone();
  grpc::Status s = stream->Finish();
  if (!s.ok()) return Convert(s, endpoint_);
  return FromProto(resp.object());
}

absl::StatusOr<ObjectInfo> Client::PutObject(const std::string& bucket, const std::string& key,
                                             absl::string_view data, const PutOptions& options) {
  size_t pos = 0;
  ReaderFn reader = [&](char* buf, size_t cap) -> absl::StatusOr<size_t> {
    const size_t n = std::min(cap, data.size() - pos);
    std::memcpy(buf, data.data() + pos, n);
    pos += n;
    return n;
  };
  return PutObjectFromReader(bucket, key, reader, static_cast<int64_t>(data.size()), options);
}

absl::StatusOr<ObjectInfo> Client::GetObjectToSink(const std::string& bucket,
                                                   const std::string& key, const SinkFn& sink,
                                                   const GetOptions& options) {
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline(options_.transfer_timeout));
  v1::GetObjectRequest req;
  req.set_bucket(bucket);
  req.set_key(key);
  req.set_version_id(options.version_id);
  req.set_offset(options.offset);
  req.set_length(options.length);
  std::unique_ptr<grpc::ClientReader<v1::GetObjectResponse>> stream =
      impl_->stub->GetObject(&ctx, req);
  v1::GetObjectResponse msg;
  ObjectInfo info;
  bool have_info = false;
  uint64_t done = 0;
  int64_t total = -1;
  absl::Status local;
  while (stream->Read(&msg)) {
    if (msg.has_object()) {
      info = FromProto(msg.object());
      have_info = true;
      const uint64_t rest = info.size > options.offset ? info.size - options.offset : 0;
      total = static_cast<int64_t>(options.length == 0 ? rest : std::min(options.length, rest));
      if (options.progress) options.progress(0, total);
    }
    if (!msg.data().empty()) {
      local = sink(msg.data());
      if (!local.ok()) break;
      done += msg.data().size();
      if (options.progress) options.progress(done, total);
    }
  }
  if (!local.ok()) {
    ctx.TryCancel();
    (void)stream->Finish();
    return local;
  }
  grpc::Status s = stream->Finish();
  if (!s.ok()) return Convert(s, endpoint_);
  if (!have_info) return absl::InternalError("the gateway sent no object info");
  if (total >= 0 && done != static_cast<uint64_t>(total)) {
    return absl::DataLossError(
        absl::StrCat("the gateway sent ", done, " of ", total, " bytes of ", bucket, "/", key));
  }
  return info;
}

absl::StatusOr<std::string> Client::GetObject(const std::string& bucket, const std::string& key,
                                              const GetOptions& options) {
  std::string out;
  absl::StatusOr<ObjectInfo> info = GetObjectToSink(
      bucket, key,
      [&out](absl::string_view data) {
        out.append(data.data(), data.size());
        return absl::OkStatus();
      },
      options);
  if (!info.ok()) return info.status();
  return out;
}

absl::StatusOr<ObjectInfo> Client::HeadObject(const std::string& bucket, const std::string& key) {
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline(options_.timeout));
  v1::HeadObjectRequest req;
  req.set_bucket(bucket);
  req.set_key(key);
  v1::HeadObjectResponse resp;
  grpc::Status s = impl_->stub->HeadObject(&ctx, req, &resp);
  if (!s.ok()) return Convert(s, endpoint_);
  return FromProto(resp.object());
}

absl::Status Client::DeleteObject(const std::string& bucket, const std::string& key) {
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline(options_.timeout));
  v1::DeleteObjectRequest req;
  req.set_bucket(bucket);
  req.set_key(key);
  v1::DeleteObjectResponse resp;
  return Convert(impl_->stub->DeleteObject(&ctx, req, &resp), endpoint_);
}

absl::StatusOr<ListPage> Client::ListObjects(const std::string& bucket,
                                             const ListOptions& options) {
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline(options_.timeout));
  v1::ListObjectsRequest req;
  req.set_bucket(bucket);
  req.set_prefix(options.prefix);
  req.set_delimiter(options.delimiter);
  req.set_start_after(options.start_after);
  req.set_continuation_token(options.continuation_token);
  req.set_max_keys(options.max_keys);
  v1::ListObjectsResponse resp;
  grpc::Status s = impl_->stub->ListObjects(&ctx, req, &resp);
  if (!s.ok()) return Convert(s, endpoint_);
  ListPage page;
  for (const v1::ObjectInfo& o : resp.objects()) page.objects.push_back(FromProto(o));
  page.common_prefixes.assign(resp.common_prefixes().begin(), resp.common_prefixes().end());
  page.truncated = resp.truncated();
  page.next_continuation_token = resp.next_continuation_token();
  return page;
}

absl::StatusOr<ClusterStatus> Client::GetClusterStatus() {
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline(options_.timeout));
  v1::ClusterStatusResponse resp;
  grpc::Status s = impl_->stub->ClusterStatus(&ctx, v1::ClusterStatusRequest(), &resp);
  if (!s.ok()) return Convert(s, endpoint_);
  ClusterStatus out;
  out.data_shards = resp.data_shards();
  out.parity_shards = resp.parity_shards();
  for (const v1::NodeStatus& n : resp.nodes()) {
    NodeStatus ns;
    ns.node_id = n.node_id();
    ns.address = n.address();
    ns.site = n.site();
    ns.state = n.state();
    ns.capacity_bytes = n.capacity_bytes();
    ns.free_bytes = n.free_bytes();
    ns.egress_bytes_per_second = n.egress_bytes_per_second();
    ns.ingress_bytes_per_second = n.ingress_bytes_per_second();
    ns.median_rtt_micros = n.median_rtt_micros();
    ns.reported = n.reported();
    ns.slice_count = n.slice_count();
    ns.has_repair = n.has_repair();
    const v1::RepairStatus& r = n.repair();
    ns.repair.passes = r.passes();
    ns.repair.degraded_stripes.insert(r.degraded_stripes().begin(), r.degraded_stripes().end());
    ns.repair.queue_stripes = r.queue_stripes();
    ns.repair.queue_bytes = r.queue_bytes();
    ns.repair.stripes_repaired = r.stripes_repaired();
    ns.repair.bytes_read = r.bytes_read();
    ns.repair.bytes_written = r.bytes_written();
    ns.repair.bytes_per_second = r.bytes_per_second();
    ns.repair.time_to_redundancy_seconds = r.time_to_redundancy_seconds();
    ns.repair.buckets_leased = r.buckets_leased();
    ns.repair.damaged_slices = r.damaged_slices();
    ns.has_scrub = n.has_scrub();
    const v1::ScrubStatus& sc = n.scrub();
    ns.scrub.passes = sc.passes();
    ns.scrub.slices_checked = sc.slices_checked();
    ns.scrub.bytes_checked = sc.bytes_checked();
    ns.scrub.corrupt_found = sc.corrupt_found();
    ns.scrub.errors = sc.errors();
    ns.scrub.pass_slices_checked = sc.pass_slices_checked();
    out.nodes.push_back(std::move(ns));
  }
  return out;
}

absl::StatusOr<ObjectInfo> Client::PutSealedObject(const std::string& bucket,
                                                   const std::string& key,
                                                   const ClientSealing& sealing,
                                                   const SealedStripeSource& next,
                                                   const PutOptions& options) {
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline(options_.transfer_timeout));
  v1::PutSealedObjectResponse resp;
  std::unique_ptr<grpc::ClientWriter<v1::PutSealedObjectRequest>> stream =
      impl_->stub->PutSealedObject(&ctx, &resp);
  v1::PutSealedObjectRequest msg;
  v1::PutSealedObjectRequest::Header* h = msg.mutable_header();
  h->set_bucket(bucket);
  h->set_key(key);
  h->set_content_type(options.content_type);
  for (const auto& [k, v] : options.user_metadata) (*h->mutable_user_metadata())[k] = v;
  h->set_if_none_match(options.if_none_match);
  h->set_if_match(options.if_match);
  v1::ClientSealing* hs = h->mutable_sealing();
  hs->set_format(sealing.format);
  hs->set_key_id(sealing.key_id);
  hs->set_wrapped_data_key(sealing.wrapped_data_key);
  hs->set_upload_nonce(sealing.upload_nonce);
  absl::Status local;
  bool server_gone = false;
  uint64_t done = 0;
  if (options.progress) options.progress(0, -1);
  while (true) {
    absl::StatusOr<SealedStripe> stripe = next();
    if (!stripe.ok()) {
      local = stripe.status();
      break;
    }
    const bool last = stripe->last;
    done += stripe->plaintext_size;
    v1::SealedStripe* out = msg.mutable_stripe();
    out->set_index(stripe->index);
    out->set_plaintext_offset(stripe->plaintext_offset);
    out->set_plaintext_size(stripe->plaintext_size);
    out->set_last(last);
    out->set_sealed(std::move(stripe->sealed));
    if (!stream->Write(msg)) {
      server_gone = true;  // the gateway ended the call; Finish() has its status
      break;
    }
    if (options.progress) options.progress(done, -1);
    msg.Clear();
    if (last) break;
  }
  if (!local.ok()) {
    ctx.TryCancel();  // the gateway aborts the upload; nothing becomes visible
    (void)stream->Finish();
    return local;
  }
  if (!server_gone) stream->WritesDone();
  grpc::Status s = stream->Finish();
  if (!s.ok()) return Convert(s, endpoint_);
  return FromProto(resp.object());
}

absl::StatusOr<ObjectInfo> Client::GetSealedObject(const std::string& bucket,
                                                   const std::string& key,
                                                   const GetOptions& options,
                                                   const SealedHeaderFn& on_header,
                                                   const SealedStripeFn& on_stripe) {
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline(options_.transfer_timeout));
  v1::GetSealedObjectRequest req;
  req.set_bucket(bucket);
  req.set_key(key);
  req.set_version_id(options.version_id);
  req.set_offset(options.offset);
  req.set_length(options.length);
  std::unique_ptr<grpc::ClientReader<v1::GetSealedObjectResponse>> stream =
      impl_->stub->GetSealedObject(&ctx, req);
  v1::GetSealedObjectResponse msg;
  ObjectInfo info;
  bool have_info = false;
  absl::Status local;
  while (stream->Read(&msg)) {
    if (msg.has_object()) {
      info = FromProto(msg.object());
      have_info = true;
      ClientSealing sealing;
      sealing.format = msg.sealing().format();
      sealing.key_id = msg.sealing().key_id();
      sealing.wrapped_data_key = msg.sealing().wrapped_data_key();
      sealing.upload_nonce = msg.sealing().upload_nonce();
      local = on_header(info, sealing, msg.stripe_count());
      if (!local.ok()) break;
    }
    if (msg.has_stripe()) {
      if (!have_info) {
        local = absl::DataLossError("the gateway sent a stripe before the object's header");
        break;
      }
      SealedStripe stripe;
      stripe.index = msg.stripe().index();
      stripe.plaintext_offset = msg.stripe().plaintext_offset();
      stripe.plaintext_size = msg.stripe().plaintext_size();
      stripe.last = msg.stripe().last();
      stripe.sealed = std::move(*msg.mutable_stripe()->mutable_sealed());
      local = on_stripe(std::move(stripe));
      if (!local.ok()) break;
    }
  }
  if (!local.ok()) {
    ctx.TryCancel();
    (void)stream->Finish();
    return local;
  }
  grpc::Status s = stream->Finish();
  if (!s.ok()) return Convert(s, endpoint_);
  if (!have_info) return absl::InternalError("the gateway sent no object info");
  return info;
}

std::string FormatBytes(uint64_t bytes) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  int unit = 0;
  while (v >= 1024 && unit < 5) {
    v /= 1024;
    ++unit;
  }
  if (unit == 0) return absl::StrCat(bytes, " B");
  return absl::StrFormat("%.1f %s", v, kUnits[unit]);
}

}  // namespace tessera::sdk
