#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/rpc/channel.h"
#include "master/task_runner.h"
#include "netadapt/v1/worker_service.grpc.pb.h"

namespace netadapt::master {

// TaskRunner over WorkerService: one channel per worker address, reused, made with
// `channel_options` (the master's token and TLS); every call has a deadline of `task_timeout`.
class GrpcTaskRunner final : public TaskRunner {
 public:
  explicit GrpcTaskRunner(absl::Duration task_timeout, rpc::ChannelOptions channel_options = {})
      : task_timeout_(task_timeout), channel_options_(std::move(channel_options)) {}

  absl::StatusOr<v1::TaskResult> Simplify(const WorkerSlot& slot, const v1::SimplifyTask& task,
                                          const Progress& progress,
                                          Cancellation& cancellation) override;
  absl::StatusOr<v1::TaskResult> FineTune(const WorkerSlot& slot, const v1::FineTuneTask& task,
                                          const Progress& progress,
                                          Cancellation& cancellation) override;
  absl::StatusOr<v1::TaskResult> Evaluate(const WorkerSlot& slot, const v1::EvaluateTask& task,
                                          const Progress& progress,
                                          Cancellation& cancellation) override;
  absl::StatusOr<v1::TaskResult> Pretrain(const WorkerSlot& slot, const v1::PretrainTask& task,
                                          const Progress& progress,
                                          Cancellation& cancellation) override;

 private:
  v1::WorkerService::Stub& StubFor(const std::string& address);
  template <typename Request, typename Call>
  absl::StatusOr<v1::TaskResult> Run(const WorkerSlot& slot, const Request& request,
                                     const Progress& progress, Cancellation& cancellation,
                                     Call call);

  const absl::Duration task_timeout_;
  const rpc::ChannelOptions channel_options_;
  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<v1::WorkerService::Stub>> stubs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace netadapt::master
