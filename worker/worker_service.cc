#include "worker/worker_service.h"

#include <spdlog/spdlog.h>

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/logging.h"
#include "common/rpc/grpc_status.h"

namespace netadapt::worker {

DeviceQueues::DeviceQueues(const std::vector<std::string>& devices) {
  {
    absl::MutexLock lock(&mu_);
    for (const std::string& device : devices) queues_[device];
  }
  for (const std::string& device : devices) {
    threads_.emplace_back([this, device] { Loop(device); });
  }
}

DeviceQueues::~DeviceQueues() { Shutdown(); }

absl::Status DeviceQueues::Submit(const std::string& device, std::function<void()> work) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return absl::UnavailableError("the worker is shutting down");
  auto it = queues_.find(device);
  if (it == queues_.end()) {
    std::vector<std::string> names;
    for (const auto& [name, queue] : queues_) names.push_back(name);
    return absl::FailedPreconditionError(absl::StrCat("header.device: this worker has no device ",
                                                      device, " (it has ",
                                                      absl::StrJoin(names, ", "), ")"));
  }
  it->second.push_back(std::move(work));
  return absl::OkStatus();
}

void DeviceQueues::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
}

void DeviceQueues::Loop(const std::string& device) {
  while (true) {
    std::function<void()> work;
    {
      absl::MutexLock lock(&mu_);
      std::deque<std::function<void()>>& queue = queues_[device];
      auto ready = [this, &queue]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !queue.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (queue.empty()) return;  // stopping, nothing left
      work = std::move(queue.front());
      queue.pop_front();
    }
    work();
  }
}

// One task call. Lives until both gRPC is done with it (OnDone) and the task
// has reported its end (Complete): whichever comes second deletes it, so the
// task thread never touches a deleted reactor, and the reactor never outlives
// the call's bookkeeping.
class WorkerServiceImpl::TaskReactor final : public grpc::ServerWriteReactor<v1::TaskUpdate> {
 public:
  TaskReactor(std::string name, std::shared_ptr<std::atomic<bool>> stopping)
      : name_(std::move(name)), stopping_(std::move(stopping)) {}

  const std::string& name() const { return name_; }

  // Task thread: whether to stop (the client cancelled, the stream broke, the
  // worker stops).
  bool cancelled() const { return cancelled_.load() || stopping_->load(); }

  // Task thread: the latest progress; replaces a report not yet sent.
  void Progress(const v1::TaskProgress& progress) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (finish_called_) return;
    pending_progress_.emplace();
    *pending_progress_->mutable_progress() = progress;
    MaybeWriteLocked();
  }

  // The task's end; its last call (may delete this).
  void Complete(const absl::StatusOr<v1::TaskResult>& result) ABSL_LOCKS_EXCLUDED(mu_) {
    bool done;
    {
      absl::MutexLock lock(&mu_);
      task_released_ = true;
      if (!finish_called_) {
        if (result.ok()) {
          result_.emplace();
          *result_->mutable_result() = *result;
        } else {
          status_ = rpc::ToGrpcStatus(result.status());
        }
        pending_progress_.reset();  // the result supersedes it
        MaybeWriteLocked();
      }
      done = on_done_;
    }
    if (done) delete this;
  }

  void OnWriteDone(bool ok) override ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) {  // the stream broke: the client is gone
      cancelled_.store(true);
      FinishOnceLocked(grpc::Status(grpc::StatusCode::CANCELLED, "the stream broke"));
      return;
    }
    MaybeWriteLocked();
  }

  void OnCancel() override ABSL_LOCKS_EXCLUDED(mu_) {
    cancelled_.store(true);
    absl::MutexLock lock(&mu_);
    FinishOnceLocked(grpc::Status::CANCELLED);
  }

  void OnDone() override ABSL_LOCKS_EXCLUDED(mu_) {
    bool released;
    {
      absl::MutexLock lock(&mu_);
      on_done_ = true;
      released = task_released_;
    }
    if (released) delete this;
  }

 private:
  void FinishOnceLocked(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finish_called_) return;
    finish_called_ = true;
    Finish(std::move(status));
  }

  // Starts the next write when none is in flight: the result (with the finish),
  // the error, or the latest progress.
  void MaybeWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finish_called_ || writing_) return;
    if (result_.has_value()) {
      finish_called_ = true;
      write_ = *std::move(result_);
      result_.reset();
      StartWriteAndFinish(&write_, grpc::WriteOptions(), grpc::Status::OK);
    } else if (status_.has_value()) {
      FinishOnceLocked(*status_);
    } else if (pending_progress_.has_value()) {
      writing_ = true;
      write_ = *std::move(pending_progress_);
      pending_progress_.reset();
      StartWrite(&write_);
    }
  }

  const std::string name_;
  const std::shared_ptr<std::atomic<bool>> stopping_;
  std::atomic<bool> cancelled_{false};
  absl::Mutex mu_;
  std::optional<v1::TaskUpdate> pending_progress_ ABSL_GUARDED_BY(mu_);
  std::optional<v1::TaskUpdate> result_ ABSL_GUARDED_BY(mu_);
  std::optional<grpc::Status> status_ ABSL_GUARDED_BY(mu_);
  v1::TaskUpdate write_ ABSL_GUARDED_BY(mu_);  // the message in flight
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_called_ ABSL_GUARDED_BY(mu_) = false;
  bool on_done_ ABSL_GUARDED_BY(mu_) = false;
  bool task_released_ ABSL_GUARDED_BY(mu_) = false;
};

WorkerServiceImpl::WorkerServiceImpl(TaskExecutor* executor, std::vector<std::string> devices)
    : executor_(executor),
      devices_(std::move(devices)),
      stopping_(std::make_shared<std::atomic<bool>>(false)),
      queues_(devices_) {}

WorkerServiceImpl::~WorkerServiceImpl() { Shutdown(); }

void WorkerServiceImpl::Shutdown() {
  stopping_->store(true);
  queues_.Shutdown();
}

grpc::ServerWriteReactor<v1::TaskUpdate>* WorkerServiceImpl::Start(
    grpc::CallbackServerContext* context, const v1::TaskHeader& header, absl::string_view kind,
    Runner run) {
  auto* reactor = new TaskReactor(
      absl::StrCat(header.job(), " iteration ", header.iteration(), " block ", header.block(), " ",
                   kind, " (attempt ", header.attempt_id(), ")"),
      stopping_);
  common::Logger("worker")->debug("{} from {}", reactor->name(), context->peer());
  // Epoch fencing: once a restarted master (a larger epoch) has sent a task, tasks of the
  // master it replaced are refused, so a master that was partitioned away and comes back
  // cannot commit work next to its successor.
  int64_t newest = newest_master_epoch_.load();
  while (header.master_epoch() > newest &&
         !newest_master_epoch_.compare_exchange_weak(newest, header.master_epoch())) {
  }
  if (header.master_epoch() < newest) {
    reactor->Complete(absl::FailedPreconditionError(absl::StrCat(
        reactor->name(), " comes from master epoch ", header.master_epoch(),
        ", older than epoch ", newest, " that this worker serves now: refused as stale")));
    return reactor;
  }
  const std::string device = header.device().empty() ? devices_.front() : header.device();
  absl::Status queued = queues_.Submit(device, [reactor, run = std::move(run)] {
    if (reactor->cancelled()) {
      reactor->Complete(absl::CancelledError(absl::StrCat(reactor->name(), " cancelled")));
      return;
    }
    TaskContext task_context;
    task_context.on_progress = [reactor](const v1::TaskProgress& p) { reactor->Progress(p); };
    task_context.cancelled = [reactor] { return reactor->cancelled(); };
    absl::StatusOr<v1::TaskResult> result;
    try {
      result = run(task_context);
    } catch (const std::exception& e) {
      // LibTorch reports what validation cannot foresee (out of memory, a CUDA error) by
      // throwing: the task fails with the reason and the worker keeps serving.
      result = absl::InternalError(absl::StrCat(reactor->name(), ": ", e.what()));
    }
    if (!result.ok()) {
      common::Logger("worker")->warn("{} failed: {}", reactor->name(), result.status().ToString());
    }
    reactor->Complete(result);
  });
  if (!queued.ok()) reactor->Complete(queued);
  return reactor;
}

grpc::ServerWriteReactor<v1::TaskUpdate>* WorkerServiceImpl::Simplify(
    grpc::CallbackServerContext* context, const v1::SimplifyTask* request) {
  return Start(
      context, request->header(), "simplify",
      [this, task = *request](const TaskContext& c) { return executor_->Simplify(task, c); });
}

grpc::ServerWriteReactor<v1::TaskUpdate>* WorkerServiceImpl::FineTune(
    grpc::CallbackServerContext* context, const v1::FineTuneTask* request) {
  return Start(
      context, request->header(), "fine-tune",
      [this, task = *request](const TaskContext& c) { return executor_->FineTune(task, c); });
}

grpc::ServerWriteReactor<v1::TaskUpdate>* WorkerServiceImpl::Evaluate(
    grpc::CallbackServerContext* context, const v1::EvaluateTask* request) {
  return Start(
      context, request->header(), "evaluate",
      [this, task = *request](const TaskContext& c) { return executor_->Evaluate(task, c); });
}

grpc::ServerWriteReactor<v1::TaskUpdate>* WorkerServiceImpl::Pretrain(
    grpc::CallbackServerContext* context, const v1::PretrainTask* request) {
  return Start(
      context, request->header(), "pretrain",
      [this, task = *request](const TaskContext& c) { return executor_->Pretrain(task, c); });
}

}  // namespace netadapt::worker
