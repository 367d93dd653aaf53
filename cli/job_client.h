#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "netadapt/v1/job_service.grpc.pb.h"

namespace netadapt::cli {

struct JobClientOptions {
  // Deadline of every unary call (CreateJob, GetJob, ListJobs pages, ...).
  absl::Duration timeout = absl::Seconds(10);
  // Deadline of a whole artifact upload or download.
  absl::Duration transfer_timeout = absl::Minutes(10);
  // CreateJob is retried this many times more on UNAVAILABLE, with the same request_id
  // (so the master starts one job however many attempts reach it).
  int create_retries = 2;
  // ListJobs / ListWorkers page size.
  int page_size = 100;
};

// The CLI's view of netadapt.v1.JobService: one method per call, each with a deadline, gRPC
// statuses converted to absl::Status (codes and messages kept). The stub is not owned and must
// outlive the client; tests may pass a fake. Not thread-safe (the CLI is single-threaded).
class JobClient {
 public:
  JobClient(v1::JobService::StubInterface* stub, JobClientOptions options)
      : stub_(stub), options_(options) {}

  absl::StatusOr<v1::Job> CreateJob(const v1::CreateJobRequest& request);
  absl::StatusOr<v1::Job> GetJob(absl::string_view name);
  absl::StatusOr<v1::Job> CancelJob(absl::string_view name);
  // Every job (newest first), following next_page_token; at most `limit` when positive.
  absl::StatusOr<std::vector<v1::Job>> ListJobs(int limit = 0);
  // Every worker, following next_page_token.
  absl::StatusOr<std::vector<v1::Worker>> ListWorkers();

  // Uploads `content` in chunks (common/rpc/artifact_transfer.h) and returns the master's
  // reference. DataLoss when the master reports a digest other than the content's.
  absl::StatusOr<v1::ArtifactRef> UploadArtifact(absl::string_view content);
  // Downloads artifact `digest` whole, verified against the digest (DataLoss otherwise).
  absl::StatusOr<std::string> DownloadArtifact(absl::string_view digest);

  // Opens WatchJob(name) and calls `on_update` for every message until the stream ends; the
  // stream's final status (OK when the master ended it, normally after a terminal state).
  // No deadline: a job may run for days; channel keepalive notices a dead master
  // (UNAVAILABLE). `on_update` returning false cancels the stream (the result is then OK).
  absl::Status WatchJob(absl::string_view name,
                        const std::function<bool(const v1::Job&)>& on_update);

 private:
  v1::JobService::StubInterface* const stub_;
  const JobClientOptions options_;
};

}  // namespace netadapt::cli
