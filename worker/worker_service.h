#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "netadapt/v1/worker_service.grpc.pb.h"
#include "worker/task_executor.h"

namespace netadapt::worker {

// Runs closures one at a time per device, each device on a thread of its own,
// in arrival order. The master sends one task per device at a time, so the
// queue is normally empty; it absorbs the overlap of a cancelled task still
// stopping (up to one training step) and the next one the master sends, which a
// RESOURCE_EXHAUSTED rejection would turn into a spurious failure. Thread-safe.
class DeviceQueues {
 public:
  // One thread per device in `devices`.
  explicit DeviceQueues(const std::vector<std::string>& devices);
  ~DeviceQueues();  // Shutdown()

  // Queues `work` on `device`'s thread. FailedPrecondition for a device not in
  // the list; Unavailable after Shutdown (then `work` is not run).
  absl::Status Submit(const std::string& device, std::function<void()> work)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Runs what is queued, refuses new work, joins the threads. Idempotent.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Loop(const std::string& device) ABSL_LOCKS_EXCLUDED(mu_);

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, std::deque<std::function<void()>>> queues_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_;
};

// gRPC adapter of TaskExecutor (callback API, STYLE.md section 6): each task
// call validates its device, queues the task on that device's thread, streams
// TaskUpdate progress (one write in flight; only the latest progress is sent)
// and ends with one TaskUpdate holding the result, or with the task's error as
// the call's status (rpc::ToGrpcStatus). A call the client cancels (or whose
// deadline passes) stops its task at the next step. `executor` is not owned and
// must outlive this. Call Shutdown after the server's.
class WorkerServiceImpl final : public v1::WorkerService::CallbackService {
 public:
  WorkerServiceImpl(TaskExecutor* executor, std::vector<std::string> devices);
  ~WorkerServiceImpl() override;  // Shutdown()

  grpc::ServerWriteReactor<v1::TaskUpdate>* Simplify(grpc::CallbackServerContext* context,
                                                     const v1::SimplifyTask* request) override;
  grpc::ServerWriteReactor<v1::TaskUpdate>* FineTune(grpc::CallbackServerContext* context,
                                                     const v1::FineTuneTask* request) override;
  grpc::ServerWriteReactor<v1::TaskUpdate>* Evaluate(grpc::CallbackServerContext* context,
                                                     const v1::EvaluateTask* request) override;
  grpc::ServerWriteReactor<v1::TaskUpdate>* Pretrain(grpc::CallbackServerContext* context,
                                                     const v1::PretrainTask* request) override;

  // Cancels running and queued tasks and joins the device threads. Idempotent.
  void Shutdown();

 private:
  class TaskReactor;
  using Runner = std::function<absl::StatusOr<v1::TaskResult>(const TaskContext&)>;
  grpc::ServerWriteReactor<v1::TaskUpdate>* Start(grpc::CallbackServerContext* context,
                                                  const v1::TaskHeader& header,
                                                  absl::string_view kind, Runner run);

  TaskExecutor* const executor_;
  const std::vector<std::string> devices_;
  std::shared_ptr<std::atomic<bool>> stopping_;
  // The largest master epoch seen in a task header (TaskHeader.master_epoch).
  std::atomic<int64_t> newest_master_epoch_{0};
  DeviceQueues queues_;
};

}  // namespace netadapt::worker
