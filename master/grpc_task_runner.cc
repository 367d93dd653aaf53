#include "master/grpc_task_runner.h"

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "common/rpc/channel.h"
#include "common/rpc/grpc_status.h"

namespace netadapt::master {

GrpcTaskRunner::GrpcTaskRunner(absl::Duration task_timeout, rpc::ChannelOptions channel_options)
    : GrpcTaskRunner(task_timeout,
                     [channel_options = std::move(channel_options)](const std::string& address) {
                       return std::unique_ptr<v1::WorkerService::StubInterface>(
                           v1::WorkerService::NewStub(rpc::MakeChannel(address, channel_options)));
                     }) {}

GrpcTaskRunner::GrpcTaskRunner(absl::Duration task_timeout, StubFactory stubs)
    : task_timeout_(task_timeout), make_stub_(std::move(stubs)) {}

v1::WorkerService::StubInterface& GrpcTaskRunner::StubFor(const std::string& address) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<v1::WorkerService::StubInterface>& stub = stubs_[address];
  if (stub == nullptr) stub = make_stub_(address);
  return *stub;
}

template <typename Request, typename Call>
absl::StatusOr<v1::TaskResult> GrpcTaskRunner::Run(const WorkerSlot& slot, const Request& request,
                                                   const Progress& progress,
                                                   Cancellation& cancellation, Call call) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + task_timeout_));
  const int cancel_id = cancellation.Add([&context] { context.TryCancel(); });
  std::unique_ptr<grpc::ClientReaderInterface<v1::TaskUpdate>> reader =
      call(StubFor(slot.address), &context, request);
  v1::TaskUpdate update;
  std::optional<v1::TaskResult> result;
  while (reader->Read(&update)) {
    if (update.has_progress() && progress) progress(update.progress());
    if (update.has_result()) result = update.result();
  }
  const grpc::Status status = reader->Finish();
  cancellation.Remove(cancel_id);
  if (cancellation.cancelled()) {
    // Abort carries why the attempt was given up (its worker was declared dead); otherwise
    // the job was cancelled or another attempt won.
    const absl::Status failure = cancellation.failure();
    return failure.ok() ? absl::CancelledError("cancelled") : failure;
  }
  if (!status.ok()) {
    absl::Status failure = rpc::FromGrpcStatus(status);
    return absl::Status(failure.code(),
                        absl::StrCat(slot.worker, " (", slot.address, "): ",
                                     failure.message().empty()
                                         ? absl::StatusCodeToString(failure.code())
                                         : failure.message()));
  }
  if (!result) {
    return absl::InternalError(absl::StrCat(slot.worker, " ended the task without a result"));
  }
  return *result;
}

absl::StatusOr<v1::TaskResult> GrpcTaskRunner::Simplify(const WorkerSlot& slot,
                                                        const v1::SimplifyTask& task,
                                                        const Progress& progress,
                                                        Cancellation& cancellation) {
  return Run(slot, task, progress, cancellation,
             [](v1::WorkerService::StubInterface& stub, grpc::ClientContext* context,
                const v1::SimplifyTask& request) { return stub.Simplify(context, request); });
}

absl::StatusOr<v1::TaskResult> GrpcTaskRunner::FineTune(const WorkerSlot& slot,
                                                        const v1::FineTuneTask& task,
                                                        const Progress& progress,
                                                        Cancellation& cancellation) {
  return Run(slot, task, progress, cancellation,
             [](v1::WorkerService::StubInterface& stub, grpc::ClientContext* context,
                const v1::FineTuneTask& request) { return stub.FineTune(context, request); });
}

absl::StatusOr<v1::TaskResult> GrpcTaskRunner::Evaluate(const WorkerSlot& slot,
                                                        const v1::EvaluateTask& task,
                                                        const Progress& progress,
                                                        Cancellation& cancellation) {
  return Run(slot, task, progress, cancellation,
             [](v1::WorkerService::StubInterface& stub, grpc::ClientContext* context,
                const v1::EvaluateTask& request) { return stub.Evaluate(context, request); });
}

absl::StatusOr<v1::TaskResult> GrpcTaskRunner::Pretrain(const WorkerSlot& slot,
                                                        const v1::PretrainTask& task,
                                                        const Progress& progress,
                                                        Cancellation& cancellation) {
  return Run(slot, task, progress, cancellation,
             [](v1::WorkerService::StubInterface& stub, grpc::ClientContext* context,
                const v1::PretrainTask& request) { return stub.Pretrain(context, request); });
}

}  // namespace netadapt::master
