#include "worker/master_client.h"

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/backoff.h"
#include "common/latency_table.h"
#include "common/logging.h"
#include "common/rpc/artifact_transfer.h"
#include "common/rpc/grpc_status.h"
#include "common/status_macros.h"

namespace netadapt::worker {
namespace {

std::shared_ptr<spdlog::logger> Log() { return common::Logger("worker"); }

void SetDeadline(grpc::ClientContext& context, absl::Duration timeout) {
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
}

}  // namespace

MasterClient::MasterClient(std::shared_ptr<grpc::Channel> channel, MasterClientOptions options)
    : owned_stub_(v1::CoordinatorService::NewStub(std::move(channel))),
      stub_(owned_stub_.get()),
      options_(options) {}

MasterClient::MasterClient(v1::CoordinatorService::StubInterface* stub, MasterClientOptions options)
    : stub_(stub), options_(options) {}

MasterClient::~MasterClient() { StopHeartbeats(); }

absl::StatusOr<std::string> MasterClient::FetchArtifact(absl::string_view digest) {
  // One receiver across attempts: a broken download resumes at the offset it
  // reached.
  rpc::BytesReceiver receiver{std::string(digest)};
  int64_t received = 0;
  absl::Status status;
  for (int attempt = 1; attempt <= std::max(1, options_.attempts); ++attempt) {
    if (attempt > 1 && !BackOff(attempt)) break;
    grpc::ClientContext context;
    SetDeadline(context, options_.artifact_timeout);
    v1::GetArtifactRequest request;
    request.set_digest(std::string(digest));
    request.set_offset(received);
    std::unique_ptr<grpc::ClientReaderInterface<v1::ArtifactChunk>> reader =
        stub_->GetArtifact(&context, request);
    v1::ArtifactChunk chunk;
    status = absl::OkStatus();
    while (reader->Read(&chunk)) {
      status = receiver.Add(chunk);
      if (!status.ok()) {
        context.TryCancel();
        break;
      }
      received += static_cast<int64_t>(chunk.data().size());
    }
    const absl::Status finished = rpc::FromGrpcStatus(reader->Finish());
    if (!status.ok()) return status;  // a malformed stream: retrying will not help
    if (finished.ok()) return receiver.Finish();
    status = finished;
    if (status.code() != absl::StatusCode::kUnavailable) return status;
    Log()->warn("GetArtifact {} (attempt {}): {}", std::string(digest), attempt, status.ToString());
  }
  return status;
}

absl::StatusOr<std::string> MasterClient::PutOnce(absl::string_view content) {
  grpc::ClientContext context;
  SetDeadline(context, options_.artifact_timeout);
  v1::ArtifactRef ref;
  std::unique_ptr<grpc::ClientWriterInterface<v1::ArtifactChunk>> writer =
      stub_->PutArtifact(&context, &ref);
  const absl::Status sent = rpc::SendArtifactBytes(
      content, [&writer](const v1::ArtifactChunk& chunk) { return writer->Write(chunk); });
  writer->WritesDone();
  // Finish's status says why a write failed, so it comes first.
  NETADAPT_RETURN_IF_ERROR(rpc::FromGrpcStatus(writer->Finish()));
  NETADAPT_RETURN_IF_ERROR(sent);
  return ref.digest();
}

absl::StatusOr<std::string> MasterClient::PutArtifact(absl::string_view content) {
  absl::StatusOr<std::string> digest;
  for (int attempt = 1; attempt <= std::max(1, options_.attempts); ++attempt) {
    if (attempt > 1 && !BackOff(attempt)) break;
    digest = PutOnce(content);
    if (digest.ok() || digest.status().code() != absl::StatusCode::kUnavailable) return digest;
    Log()->warn("PutArtifact (attempt {}): {}", attempt, digest.status().ToString());
  }
  return digest;
}

absl::StatusOr<std::vector<double>> MasterClient::LookupLatency(
    absl::string_view job, const std::vector<common::LayerShape>& shapes) {
  v1::LookupLatencyRequest request;
  request.set_job(std::string(job));
  for (const common::LayerShape& shape : shapes) {
    *request.add_shapes() = common::LayerShapeToProto(shape);
  }
  absl::Status status;
  for (int attempt = 1; attempt <= std::max(1, options_.attempts); ++attempt) {
    if (attempt > 1 && !BackOff(attempt)) break;
    grpc::ClientContext context;
    SetDeadline(context, options_.lookup_timeout_base + options_.lookup_timeout_per_shape *
                                                            static_cast<double>(shapes.size()));
    v1::LookupLatencyResponse response;
    status = rpc::FromGrpcStatus(stub_->LookupLatency(&context, request, &response));
    if (status.ok()) {
      if (response.latency_ms_size() != static_cast<int>(shapes.size())) {
        return absl::InternalError(absl::StrCat("LookupLatency: ", shapes.size(), " shapes asked, ",
                                                response.latency_ms_size(), " latencies returned"));
      }
      return std::vector<double>(response.latency_ms().begin(), response.latency_ms().end());
    }
    if (status.code() != absl::StatusCode::kUnavailable) return status;
    Log()->warn("LookupLatency (attempt {}): {}", attempt, status.ToString());
  }
  return status;
}

absl::StatusOr<std::vector<double>> MasterClient::EstimateLatency(
    absl::string_view job, const std::vector<common::LayerShape>& shapes) {
  v1::LookupLatencyRequest request;
  request.set_job(std::string(job));
  for (const common::LayerShape& shape : shapes) {
    *request.add_shapes() = common::LayerShapeToProto(shape);
  }
  absl::Status status;
  for (int attempt = 1; attempt <= std::max(1, options_.attempts); ++attempt) {
    if (attempt > 1 && !BackOff(attempt)) break;
    grpc::ClientContext context;
    SetDeadline(context, options_.estimate_timeout);
    v1::LookupLatencyResponse response;
    status = rpc::FromGrpcStatus(stub_->EstimateLatency(&context, request, &response));
    if (status.ok()) {
      if (response.latency_ms_size() != static_cast<int>(shapes.size())) {
        return absl::InternalError(absl::StrCat("EstimateLatency: ", shapes.size(),
                                                " shapes asked, ", response.latency_ms_size(),
                                                " latencies returned"));
      }
      return std::vector<double>(response.latency_ms().begin(), response.latency_ms().end());
    }
    if (status.code() != absl::StatusCode::kUnavailable) return status;
    Log()->warn("EstimateLatency (attempt {}): {}", attempt, status.ToString());
  }
  return status;
}

absl::StatusOr<v1::RegisterWorkerResponse> MasterClient::Register(
    const v1::RegisterWorkerRequest& request) {
  grpc::ClientContext context;
  SetDeadline(context, options_.register_timeout);
  v1::RegisterWorkerResponse response;
  NETADAPT_RETURN_IF_ERROR(
      rpc::FromGrpcStatus(stub_->RegisterWorker(&context, request, &response)));
  absl::MutexLock lock(&mu_);
  name_ = response.name();
  return response;
}

void MasterClient::StartHeartbeats(v1::RegisterWorkerRequest request) {
  heartbeat_thread_ = std::thread([this, request = std::move(request)] { HeartbeatLoop(request); });
}

void MasterClient::StopHeartbeats() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (heartbeat_thread_.joinable()) heartbeat_thread_.join();
}

std::string MasterClient::name() const {
  absl::MutexLock lock(&mu_);
  return name_;
}

bool MasterClient::WaitRegistered(absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto registered = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !name_.empty(); };
  return mu_.AwaitWithTimeout(absl::Condition(&registered), timeout);
}

bool MasterClient::BackOff(int attempt) {
  absl::Duration wait;
  {
    absl::MutexLock lock(&mu_);
    wait = common::FullJitterBackoff(options_.retry_backoff, options_.max_retry_backoff, 2.0,
                                     attempt - 2, random_);
  }
  return Sleep(wait);
}

bool MasterClient::Sleep(absl::Duration duration) {
  absl::MutexLock lock(&mu_);
  auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
  mu_.AwaitWithTimeout(absl::Condition(&stopping), duration);
  return !stopping_;
}

void MasterClient::HeartbeatLoop(v1::RegisterWorkerRequest request) {
  absl::Duration interval = absl::Seconds(5);
  bool registered = false;
  bool warned = false;  // one warning per outage, not one per attempt
  while (true) {
    if (!registered) {
      absl::StatusOr<v1::RegisterWorkerResponse> response = Register(request);
      if (response.ok()) {
        registered = true;
        warned = false;
        if (response->heartbeat_interval_ms() > 0) {
          interval = absl::Milliseconds(response->heartbeat_interval_ms());
        }
        Log()->info("registered as {} ({} {}); heartbeat every {}", response->name(),
                    request.address(), request.incarnation(), absl::FormatDuration(interval));
      } else {
        if (!warned) Log()->warn("RegisterWorker: {}; retrying", response.status().ToString());
        warned = true;
        if (!Sleep(options_.register_retry)) return;
        continue;
      }
    }
    if (!Sleep(interval)) return;
    grpc::ClientContext context;
    SetDeadline(context, options_.heartbeat_timeout);
    v1::HeartbeatRequest heartbeat;
    heartbeat.set_name(name());
    heartbeat.set_incarnation(request.incarnation());
    v1::HeartbeatResponse response;
    const absl::Status status =
        rpc::FromGrpcStatus(stub_->Heartbeat(&context, heartbeat, &response));
    if (status.code() == absl::StatusCode::kNotFound) {
      response.set_reregister(true);  // an unknown name: the same as being told to
    } else if (!status.ok()) {
      if (!warned) Log()->warn("Heartbeat: {}", status.ToString());
      warned = true;
      continue;
    }
    warned = false;
    if (response.reregister()) {
      Log()->info("the master does not know {}: registering again", heartbeat.name());
      registered = false;
    }
  }
}

}  // namespace netadapt::worker
