#pragma once

#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "netadapt/v1/coordinator_service.grpc.pb.h"
#include "worker/task_executor.h"

namespace grpc {
class Channel;
}  // namespace grpc

namespace netadapt::worker {

struct MasterClientOptions {
  // Deadlines. An artifact transfer gets base + size / min_rate (downloads:
  // base only, the size is unknown until the first chunk).
  absl::Duration register_timeout = absl::Seconds(10);
  absl::Duration heartbeat_timeout = absl::Seconds(5);
  absl::Duration artifact_timeout = absl::Minutes(10);
  // LookupLatency: misses may be measured on the device, queued behind other
  // workers' shapes, and while the profiler agent is down or hung the master
  // holds the lookup until the agent is back (the job shows that it waits), the
  // job is cancelled (the lookup then ends with Cancelled, so a cancelled task
  // stops), or the master's wait limit passes (the job fails). The master
  // bounds the wait, so this deadline is long: it only guards against a master
  // that never answers (a dead connection is noticed sooner by the channel's
  // keepalive) and must exceed the master's --profiler_wait_limit_s.
  absl::Duration lookup_timeout_base = absl::Hours(1);
  absl::Duration lookup_timeout_per_shape = absl::Seconds(2);
  // EstimateLatency measures nothing: a table read on the master.
  absl::Duration estimate_timeout = absl::Seconds(30);
  // Attempts of an artifact transfer or look-up that failed with Unavailable, with a
  // full-jitter backoff between them (common/backoff.h) so that the workers a master outage
  // hit together do not all call again at the same instant.
  int attempts = 3;
  absl::Duration retry_backoff = absl::Milliseconds(200);
  absl::Duration max_retry_backoff = absl::Seconds(5);
  // Wait between registration attempts while the master is unreachable.
  absl::Duration register_retry = absl::Seconds(2);
};

// MasterConnection over gRPC (CoordinatorService), plus the worker's
// registration and heartbeats. Every call has a deadline; artifacts move in
// chunks (common/rpc/ artifact_transfer.h). Errors are the master's status
// (NotFound for an unknown artifact or job, Unavailable when unreachable,
// DeadlineExceeded). Thread-safe.
class MasterClient final : public MasterConnection {
 public:
  // Talks over `channel` (rpc::MakeChannel).
  explicit MasterClient(std::shared_ptr<grpc::Channel> channel, MasterClientOptions options = {});
  // Talks through `stub` (not owned; tests).
  explicit MasterClient(v1::CoordinatorService::StubInterface* stub,
                        MasterClientOptions options = {});
  ~MasterClient() override;  // StopHeartbeats()

  absl::StatusOr<std::string> FetchArtifact(absl::string_view digest) override;
  absl::StatusOr<std::string> PutArtifact(absl::string_view content) override;
  absl::StatusOr<std::vector<double>> LookupLatency(
      absl::string_view job, const std::vector<common::LayerShape>& shapes) override;
  // One call with estimate_timeout, retried as LookupLatency is.
  absl::StatusOr<std::vector<double>> EstimateLatency(
      absl::string_view job, const std::vector<common::LayerShape>& shapes) override;

  // One RegisterWorker call.
  absl::StatusOr<v1::RegisterWorkerResponse> Register(const v1::RegisterWorkerRequest& request);

  // Starts a thread that registers `request` (retrying while the master is
  // unreachable), then heartbeats at the interval the master asks for, and
  // registers again when the master says it does not know this worker (e.g. it
  // restarted). Call once.
  void StartHeartbeats(v1::RegisterWorkerRequest request) ABSL_LOCKS_EXCLUDED(mu_);
  // Stops and joins that thread. Idempotent.
  void StopHeartbeats() ABSL_LOCKS_EXCLUDED(mu_);

  // "workers/{worker}" once registered, else empty.
  std::string name() const ABSL_LOCKS_EXCLUDED(mu_);
  // Waits up to `timeout` for the first successful registration.
  bool WaitRegistered(absl::Duration timeout) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  absl::StatusOr<std::string> PutOnce(absl::string_view content);
  void HeartbeatLoop(v1::RegisterWorkerRequest request) ABSL_LOCKS_EXCLUDED(mu_);
  // Waits up to `duration` unless stopping; false when stopping.
  bool Sleep(absl::Duration duration) ABSL_LOCKS_EXCLUDED(mu_);
  // Before attempt `attempt` (2, 3, ...) of a call that failed with Unavailable: the
  // backoff's wait; false when stopping.
  bool BackOff(int attempt) ABSL_LOCKS_EXCLUDED(mu_);

  std::unique_ptr<v1::CoordinatorService::StubInterface> owned_stub_;
  v1::CoordinatorService::StubInterface* const stub_;
  const MasterClientOptions options_;
  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::string name_ ABSL_GUARDED_BY(mu_);
  std::mt19937_64 random_ ABSL_GUARDED_BY(mu_){std::random_device{}()};
  std::thread heartbeat_thread_;
};

}  // namespace netadapt::worker
