#include "master/services.h"

#include <thread>

#include <spdlog/spdlog.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/latency_table.h"
#include "common/logging.h"
#include "common/rpc/grpc_status.h"
#include "master/artifact_reactors.h"

namespace netadapt::master {
namespace {

using rpc::ToGrpcStatus;

grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* context, const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

// Page tokens are the offset of the next item, as text.
absl::StatusOr<int> ParsePageToken(const std::string& token) {
  int offset = 0;
  if (token.empty()) return 0;
  if (!absl::SimpleAtoi(token, &offset) || offset < 0) {
    return absl::InvalidArgumentError(absl::StrCat("page_token: \"", token, "\" is not valid"));
  }
  return offset;
}

absl::StatusOr<int> PageSize(int page_size) {
  if (page_size < 0) return absl::InvalidArgumentError("page_size: must be >= 0");
  return page_size == 0 ? 50 : std::min(page_size, 1000);
}

// WatchJob: the job now, then the latest state after each change with one write in flight,
// ending OK after a terminal state (STYLE.md section 6).
class WatchReactor final : public grpc::ServerWriteReactor<v1::Job> {
 public:
  WatchReactor(JobStore& store, const std::string& name) : store_(store) {
    absl::StatusOr<int64_t> id =
        store_.Subscribe(name, [this](const v1::Job& job) { OnChange(job); });
    if (!id.ok()) {
      absl::MutexLock lock(&mu_);
      FinishOnce(ToGrpcStatus(id.status()));
      return;
    }
    absl::MutexLock lock(&mu_);
    subscription_ = *id;
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) {
      FinishOnce(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the client went away"));
      return;
    }
    if (pending_) {
      WriteLocked();
    } else if (JobStore::IsTerminal(in_flight_.state())) {
      FinishOnce(grpc::Status::OK);
    }
  }
  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    FinishOnce(grpc::Status::CANCELLED);
  }
  void OnDone() override {
    int64_t subscription;
    {
      absl::MutexLock lock(&mu_);
      subscription = subscription_;
    }
    if (subscription >= 0) store_.Unsubscribe(subscription);
    delete this;
  }

 private:
  void OnChange(const v1::Job& job) {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    latest_ = job;
    pending_ = true;
    if (!writing_) WriteLocked();
  }
  void WriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    in_flight_ = latest_;
    pending_ = false;
    writing_ = true;
    StartWrite(&in_flight_);
  }
  void FinishOnce(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(status);
  }

  JobStore& store_;
  absl::Mutex mu_;
  int64_t subscription_ ABSL_GUARDED_BY(mu_) = -1;
  v1::Job latest_ ABSL_GUARDED_BY(mu_);
  v1::Job in_flight_ ABSL_GUARDED_BY(mu_);
  bool pending_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

grpc::ServerUnaryReactor* JobServiceImpl::CreateJob(grpc::CallbackServerContext* context,
                                                    const v1::CreateJobRequest* request,
                                                    v1::Job* response) {
  absl::StatusOr<v1::Job> job = manager_.Create(request->spec(), request->request_id());
  if (job.ok()) {
    *response = *job;
    common::Logger("master")->info("[job={}] created ({} on {})", job->name(),
                                   job->spec().model().empty() ? job->spec().network().name()
                                                               : job->spec().model(),
                                   job->spec().dataset());
  }
  return Done(context, job.status());
}

grpc::ServerUnaryReactor* JobServiceImpl::GetJob(grpc::CallbackServerContext* context,
                                                 const v1::GetJobRequest* request,
                                                 v1::Job* response) {
  absl::StatusOr<v1::Job> job = store_.Get(request->name());
  if (job.ok()) *response = *job;
  return Done(context, job.status());
}

grpc::ServerUnaryReactor* JobServiceImpl::ListJobs(grpc::CallbackServerContext* context,
                                                   const v1::ListJobsRequest* request,
                                                   v1::ListJobsResponse* response) {
  absl::StatusOr<int> offset = ParsePageToken(request->page_token());
  if (!offset.ok()) return Done(context, offset.status());
  absl::StatusOr<int> size = PageSize(request->page_size());
  if (!size.ok()) return Done(context, size.status());
  int total = 0;
  for (v1::Job& job : store_.List(*offset, *size, &total)) *response->add_jobs() = std::move(job);
  if (*offset + response->jobs_size() < total) {
    response->set_next_page_token(absl::StrCat(*offset + response->jobs_size()));
  }
  return Done(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* JobServiceImpl::CancelJob(grpc::CallbackServerContext* context,
                                                    const v1::CancelJobRequest* request,
                                                    v1::Job* response) {
  absl::StatusOr<v1::Job> job = manager_.Cancel(request->name());
  if (job.ok()) *response = *job;
  return Done(context, job.status());
}

grpc::ServerWriteReactor<v1::Job>* JobServiceImpl::WatchJob(grpc::CallbackServerContext*,
                                                           const v1::WatchJobRequest* request) {
  return new WatchReactor(store_, request->name());
}

grpc::ServerUnaryReactor* JobServiceImpl::ListWorkers(grpc::CallbackServerContext* context,
                                                      const v1::ListWorkersRequest* request,
                                                      v1::ListWorkersResponse* response) {
  absl::StatusOr<int> offset = ParsePageToken(request->page_token());
  if (!offset.ok()) return Done(context, offset.status());
  absl::StatusOr<int> size = PageSize(request->page_size());
  if (!size.ok()) return Done(context, size.status());
  const std::vector<v1::Worker> workers = pool_.List();
  for (int i = *offset; i < static_cast<int>(workers.size()) && i < *offset + *size; ++i) {
    *response->add_workers() = workers[i];
  }
  if (*offset + response->workers_size() < static_cast<int>(workers.size())) {
    response->set_next_page_token(absl::StrCat(*offset + response->workers_size()));
  }
  return Done(context, absl::OkStatus());
}

grpc::ServerReadReactor<v1::ArtifactChunk>* JobServiceImpl::UploadArtifact(
    grpc::CallbackServerContext*, v1::ArtifactRef* response) {
  return NewUploadReactor(artifacts_, response);
}

grpc::ServerWriteReactor<v1::ArtifactChunk>* JobServiceImpl::DownloadArtifact(
    grpc::CallbackServerContext*, const v1::GetArtifactRequest* request) {
  return NewDownloadReactor(artifacts_, *request);
}

grpc::ServerUnaryReactor* CoordinatorServiceImpl::RegisterWorker(
    grpc::CallbackServerContext* context, const v1::RegisterWorkerRequest* request,
    v1::RegisterWorkerResponse* response) {
  if (request->address().empty()) {
    return Done(context, absl::InvalidArgumentError("address: is required"));
  }
  if (request->devices().empty()) {
    return Done(context, absl::InvalidArgumentError("devices: at least one is required"));
  }
  if (request->incarnation().empty()) {
    return Done(context, absl::InvalidArgumentError("incarnation: is required"));
  }
  const std::vector<std::string> devices(request->devices().begin(), request->devices().end());
  response->set_name(pool_.Register(request->address(), devices, request->incarnation()));
  response->set_heartbeat_interval_ms(heartbeat_interval_ms_);
  common::Logger("master")->info("{} registered: {} with {} device(s)", response->name(),
                                 request->address(), devices.size());
  return Done(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* CoordinatorServiceImpl::Heartbeat(grpc::CallbackServerContext* context,
                                                            const v1::HeartbeatRequest* request,
                                                            v1::HeartbeatResponse* response) {
  response->set_reregister(!pool_.Heartbeat(request->name(), request->incarnation()));
  return Done(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* CoordinatorServiceImpl::LookupLatency(
    grpc::CallbackServerContext* context, const v1::LookupLatencyRequest* request,
    v1::LookupLatencyResponse* response) {
  std::vector<common::LayerShape> shapes;
  for (int i = 0; i < request->shapes_size(); ++i) {
    absl::StatusOr<common::LayerShape> shape =
        common::LayerShapeFromProto(request->shapes(i), absl::StrCat("shapes[", i, "]"));
    if (!shape.ok()) return Done(context, shape.status());
    shapes.push_back(*std::move(shape));
  }
  // Misses can take seconds to measure on the device: never on a gRPC callback thread.
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  manager_.LookupLatencyAsync(
      request->job(), std::move(shapes),
      [reactor, response](absl::StatusOr<std::vector<double>> latencies) {
        if (latencies.ok()) {
          for (double latency : *latencies) response->add_latency_ms(latency);
        }
        reactor->Finish(ToGrpcStatus(latencies.status()));
      });
  return reactor;
}

grpc::ServerUnaryReactor* CoordinatorServiceImpl::EstimateLatency(
    grpc::CallbackServerContext* context, const v1::LookupLatencyRequest* request,
    v1::LookupLatencyResponse* response) {
  std::vector<common::LayerShape> shapes;
  for (int i = 0; i < request->shapes_size(); ++i) {
    absl::StatusOr<common::LayerShape> shape =
        common::LayerShapeFromProto(request->shapes(i), absl::StrCat("shapes[", i, "]"));
    if (!shape.ok()) return Done(context, shape.status());
    shapes.push_back(*std::move(shape));
  }
  // A read of the table (no device): answered on the callback thread, as the other
  // table-only calls are.
  absl::StatusOr<std::vector<double>> estimates =
      manager_.EstimateLatency(request->job(), shapes);
  if (estimates.ok()) {
    for (double estimate : *estimates) response->add_latency_ms(estimate);
  }
  return Done(context, estimates.status());
}

grpc::ServerWriteReactor<v1::ArtifactChunk>* CoordinatorServiceImpl::GetArtifact(
    grpc::CallbackServerContext*, const v1::GetArtifactRequest* request) {
  return NewDownloadReactor(artifacts_, *request);
}

grpc::ServerReadReactor<v1::ArtifactChunk>* CoordinatorServiceImpl::PutArtifact(
    grpc::CallbackServerContext*, v1::ArtifactRef* response) {
  return NewUploadReactor(artifacts_, response);
}

}  // namespace netadapt::master
