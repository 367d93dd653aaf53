#include "cli/job_client.h"

#include <grpcpp/client_context.h>

#include <algorithm>
#include <chrono>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/rpc/artifact_transfer.h"
#include "common/rpc/grpc_status.h"
#include "common/status_macros.h"

namespace netadapt::cli {
namespace {

void SetDeadline(grpc::ClientContext& context, absl::Duration timeout) {
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
}

}  // namespace

absl::StatusOr<v1::Job> JobClient::CreateJob(const v1::CreateJobRequest& request) {
  absl::Status status;
  for (int attempt = 0; attempt <= options_.create_retries; ++attempt) {
    grpc::ClientContext context;
    SetDeadline(context, options_.timeout);
    v1::Job job;
    status = rpc::FromGrpcStatus(stub_->CreateJob(&context, request, &job));
    if (status.ok()) return job;
    // Only a call that may not have reached the master is worth repeating, and only when the
    // request_id makes the repeat harmless. A refused connection fails at once, so retrying
    // costs little when the master is simply down.
    if (status.code() != absl::StatusCode::kUnavailable || request.request_id().empty()) break;
  }
  return status;
}

absl::StatusOr<v1::Job> JobClient::GetJob(absl::string_view name) {
  grpc::ClientContext context;
  SetDeadline(context, options_.timeout);
  v1::GetJobRequest request;
  request.set_name(std::string(name));
  v1::Job job;
  NETADAPT_RETURN_IF_ERROR(rpc::FromGrpcStatus(stub_->GetJob(&context, request, &job)));
  return job;
}

absl::StatusOr<v1::Job> JobClient::CancelJob(absl::string_view name) {
  grpc::ClientContext context;
  SetDeadline(context, options_.timeout);
  v1::CancelJobRequest request;
  request.set_name(std::string(name));
  v1::Job job;
  NETADAPT_RETURN_IF_ERROR(rpc::FromGrpcStatus(stub_->CancelJob(&context, request, &job)));
  return job;
}

absl::StatusOr<std::vector<v1::Job>> JobClient::ListJobs(int limit) {
  std::vector<v1::Job> jobs;
  v1::ListJobsRequest request;
  request.set_page_size(limit > 0 ? std::min(limit, options_.page_size) : options_.page_size);
  while (true) {
    grpc::ClientContext context;
    SetDeadline(context, options_.timeout);
    v1::ListJobsResponse response;
    NETADAPT_RETURN_IF_ERROR(rpc::FromGrpcStatus(stub_->ListJobs(&context, request, &response)));
    for (v1::Job& job : *response.mutable_jobs()) {
      if (limit > 0 && static_cast<int>(jobs.size()) >= limit) return jobs;
      jobs.push_back(std::move(job));
    }
    if (response.next_page_token().empty()) return jobs;
    // A server that hands back the token it was given would loop forever.
    if (response.next_page_token() == request.page_token()) {
      return absl::InternalError("ListJobs returned the same page token twice");
    }
    request.set_page_token(response.next_page_token());
  }
}

absl::StatusOr<std::vector<v1::Worker>> JobClient::ListWorkers() {
  std::vector<v1::Worker> workers;
  v1::ListWorkersRequest request;
  request.set_page_size(options_.page_size);
  while (true) {
    grpc::ClientContext context;
    SetDeadline(context, options_.timeout);
    v1::ListWorkersResponse response;
    NETADAPT_RETURN_IF_ERROR(
        rpc::FromGrpcStatus(stub_->ListWorkers(&context, request, &response)));
    for (v1::Worker& worker : *response.mutable_workers()) workers.push_back(std::move(worker));
    if (response.next_page_token().empty()) return workers;
    if (response.next_page_token() == request.page_token()) {
      return absl::InternalError("ListWorkers returned the same page token twice");
    }
    request.set_page_token(response.next_page_token());
  }
}

absl::StatusOr<v1::ArtifactRef> JobClient::UploadArtifact(absl::string_view content) {
  grpc::ClientContext context;
  SetDeadline(context, options_.transfer_timeout);
  v1::ArtifactRef ref;
  std::unique_ptr<grpc::ClientWriterInterface<v1::ArtifactChunk>> writer =
      stub_->UploadArtifact(&context, &ref);
  std::string digest;
  const absl::Status sent =
      rpc::SendArtifactBytes(content, [&](const v1::ArtifactChunk& chunk) {
        if (digest.empty()) digest = chunk.digest();
        return writer->Write(chunk);
      });
  // A failed Write means the call is over; Finish tells why (the master's status).
  writer->WritesDone();
  const absl::Status finished = rpc::FromGrpcStatus(writer->Finish());
  NETADAPT_RETURN_IF_ERROR(finished);
  NETADAPT_RETURN_IF_ERROR(sent);
  if (ref.digest() != digest) {
    return absl::DataLossError(absl::StrCat("the master stored the upload as ", ref.digest(),
                                            " but its sha256 is ", digest));
  }
  return ref;
}

absl::StatusOr<std::string> JobClient::DownloadArtifact(absl::string_view digest) {
  grpc::ClientContext context;
  SetDeadline(context, options_.transfer_timeout);
  v1::GetArtifactRequest request;
  request.set_digest(std::string(digest));
  std::unique_ptr<grpc::ClientReaderInterface<v1::ArtifactChunk>> reader =
      stub_->DownloadArtifact(&context, request);
  rpc::BytesReceiver receiver{std::string(digest)};
  v1::ArtifactChunk chunk;
  absl::Status received;
  while (reader->Read(&chunk)) {
    received = receiver.Add(chunk);
    if (!received.ok()) {
      context.TryCancel();
      break;
    }
  }
  const absl::Status finished = rpc::FromGrpcStatus(reader->Finish());
  NETADAPT_RETURN_IF_ERROR(received);
  NETADAPT_RETURN_IF_ERROR(finished);
  return receiver.Finish();
}

absl::Status JobClient::WatchJob(absl::string_view name,
                                 const std::function<bool(const v1::Job&)>& on_update) {
  grpc::ClientContext context;
  v1::WatchJobRequest request;
  request.set_name(std::string(name));
  std::unique_ptr<grpc::ClientReaderInterface<v1::Job>> reader =
      stub_->WatchJob(&context, request);
  v1::Job job;
  bool stopped = false;
  while (reader->Read(&job)) {
    if (!on_update(job)) {
      stopped = true;
      context.TryCancel();
      break;
    }
  }
  const absl::Status status = rpc::FromGrpcStatus(reader->Finish());
  return stopped ? absl::OkStatus() : status;
}

}  // namespace netadapt::cli
