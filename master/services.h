#pragma once

#include "common/artifact_store.h"
#include "master/job_manager.h"
#include "master/job_store.h"
#include "master/worker_pool.h"
#include "netadapt/v1/coordinator_service.grpc.pb.h"
#include "netadapt/v1/job_service.grpc.pb.h"

namespace netadapt::master {

// JobService (users): a thin adapter over JobManager, JobStore, WorkerPool and the artifact
// store (STYLE.md section 6). None of the references is owned.
class JobServiceImpl final : public v1::JobService::CallbackService {
 public:
  JobServiceImpl(JobManager& manager, JobStore& store, WorkerPool& pool,
                 common::ArtifactStore& artifacts)
      : manager_(manager), store_(store), pool_(pool), artifacts_(artifacts) {}

  grpc::ServerUnaryReactor* CreateJob(grpc::CallbackServerContext* context,
                                      const v1::CreateJobRequest* request,
                                      v1::Job* response) override;
  grpc::ServerUnaryReactor* GetJob(grpc::CallbackServerContext* context,
                                   const v1::GetJobRequest* request, v1::Job* response) override;
  grpc::ServerUnaryReactor* ListJobs(grpc::CallbackServerContext* context,
                                     const v1::ListJobsRequest* request,
                                     v1::ListJobsResponse* response) override;
  grpc::ServerUnaryReactor* CancelJob(grpc::CallbackServerContext* context,
                                      const v1::CancelJobRequest* request,
                                      v1::Job* response) override;
  grpc::ServerWriteReactor<v1::Job>* WatchJob(grpc::CallbackServerContext* context,
                                              const v1::WatchJobRequest* request) override;
  grpc::ServerUnaryReactor* ListWorkers(grpc::CallbackServerContext* context,
                                        const v1::ListWorkersRequest* request,
                                        v1::ListWorkersResponse* response) override;
  grpc::ServerReadReactor<v1::ArtifactChunk>* UploadArtifact(
      grpc::CallbackServerContext* context, v1::ArtifactRef* response) override;
  grpc::ServerWriteReactor<v1::ArtifactChunk>* DownloadArtifact(
      grpc::CallbackServerContext* context, const v1::GetArtifactRequest* request) override;

 private:
  JobManager& manager_;
  JobStore& store_;
  WorkerPool& pool_;
  common::ArtifactStore& artifacts_;
};

// CoordinatorService (workers): registration, heartbeats, latency lookups, artifacts.
class CoordinatorServiceImpl final : public v1::CoordinatorService::CallbackService {
 public:
  CoordinatorServiceImpl(JobManager& manager, WorkerPool& pool, common::ArtifactStore& artifacts,
                         int heartbeat_interval_ms)
      : manager_(manager), pool_(pool), artifacts_(artifacts),
        heartbeat_interval_ms_(heartbeat_interval_ms) {}

  grpc::ServerUnaryReactor* RegisterWorker(grpc::CallbackServerContext* context,
                                           const v1::RegisterWorkerRequest* request,
                                           v1::RegisterWorkerResponse* response) override;
  grpc::ServerUnaryReactor* Heartbeat(grpc::CallbackServerContext* context,
                                      const v1::HeartbeatRequest* request,
                                      v1::HeartbeatResponse* response) override;
  grpc::ServerUnaryReactor* LookupLatency(grpc::CallbackServerContext* context,
                                          const v1::LookupLatencyRequest* request,
                                          v1::LookupLatencyResponse* response) override;
  grpc::ServerUnaryReactor* EstimateLatency(grpc::CallbackServerContext* context,
                                            const v1::LookupLatencyRequest* request,
                                            v1::LookupLatencyResponse* response) override;
  grpc::ServerWriteReactor<v1::ArtifactChunk>* GetArtifact(
      grpc::CallbackServerContext* context, const v1::GetArtifactRequest* request) override;
  grpc::ServerReadReactor<v1::ArtifactChunk>* PutArtifact(grpc::CallbackServerContext* context,
                                                          v1::ArtifactRef* response) override;

 private:
  JobManager& manager_;
  WorkerPool& pool_;
  common::ArtifactStore& artifacts_;
  const int heartbeat_interval_ms_;
};

}  // namespace netadapt::master
