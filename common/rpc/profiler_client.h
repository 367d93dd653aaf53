#pragma once

#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/layer_shape.h"
#include "common/lut_latency_model.h"
#include "netadapt/v1/profiler.grpc.pb.h"

namespace grpc {
class Channel;
class ClientContext;
}  // namespace grpc

namespace netadapt::rpc {

struct ProfilerClientOptions {
  // Deadline of DescribeDevice.
  absl::Duration describe_timeout = absl::Seconds(10);
  // Deadline of a MeasureLayers call: base + per_shape x shapes. It is what bounds a call to
  // a hung agent (one that accepts connections but never answers; a stopped process is also
  // noticed by the channel's keepalive, rpc::ChannelOptions), so it is proportional to the
  // work and no more: the agent caps the timed runs of one shape at --max_time_ms (2 s by
  // default) plus a few warm-up runs, and takes turns between clients' requests; 5 s per
  // shape leaves room for one other client. A call that runs out is retried (the master's
  // ProfilerWait), and the agent keeps what it measured in its cache, so a retry resumes.
  absl::Duration measure_timeout_base = absl::Seconds(30);
  absl::Duration measure_timeout_per_shape = absl::Seconds(5);
  // Deadline of MeasureNetwork.
  absl::Duration network_timeout = absl::Minutes(5);
};

// Calls a netadapt-profiler agent. Every call has a deadline; errors are the agent's status
// (Unavailable when it cannot be reached, DeadlineExceeded, ...). Thread-safe; one client (one
// channel) serves any number of concurrent calls.
class ProfilerClient {
 public:
  // Talks over `channel` (see MakeChannel).
  explicit ProfilerClient(std::shared_ptr<grpc::Channel> channel,
                          ProfilerClientOptions options = {});
  // Talks through `stub` (not owned; e.g. a mock in tests).
  explicit ProfilerClient(v1::ProfilerService::StubInterface* stub,
                          ProfilerClientOptions options = {});
  ~ProfilerClient();

  absl::StatusOr<v1::DescribeDeviceResponse> DescribeDevice();
  absl::StatusOr<v1::MeasureLayersResponse> MeasureLayers(const v1::MeasureLayersRequest& request);
  absl::StatusOr<v1::MeasureNetworkResponse> MeasureNetwork(
      const v1::MeasureNetworkRequest& request);

  // Cancels every call in flight (they return Cancelled; the agent stops their remaining
  // measurements). Later calls are not affected.
  void CancelAll() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Registers `context` for CancelAll for the duration of one call.
  class InFlight;

  std::unique_ptr<v1::ProfilerService::StubInterface> owned_stub_;
  v1::ProfilerService::StubInterface* const stub_;
  const ProfilerClientOptions options_;
  absl::Mutex mu_;
  absl::flat_hash_set<grpc::ClientContext*> in_flight_ ABSL_GUARDED_BY(mu_);
};

// The foundation's LatencyMeasurer backed by a profiler agent: LUT misses measured on the
// device. Splits requests into calls of at most `max_batch_shapes` shapes (the agent's limit,
// see DescribeDeviceResponse), re-measures the shapes whose spread is wide (see
// common::MeasureWithinSpread and `remeasure`) and returns each shape's statistics (Measure)
// or median (MeasureMs). Every caller of the agent's layer measurements (the master's LUT, the
// offline builder netadapt-lut) goes through here, so all of them get the same bound on
// spread. Thread-safe.
class GrpcLatencyMeasurer final : public common::LatencyMeasurer {
 public:
  // `client` is not owned and must outlive this. `options` are sent with every request.
  GrpcLatencyMeasurer(ProfilerClient* client, int max_batch_shapes,
                      v1::MeasureOptions options = {}, common::RemeasurePolicy remeasure = {});

  absl::StatusOr<std::vector<double>> MeasureMs(const std::vector<common::LayerShape>& shapes)
      override;
  absl::StatusOr<std::vector<common::LatencyStats>> Measure(
      const std::vector<common::LayerShape>& shapes, bool force) override;

 private:
  // One pass over `shapes`, in calls of at most max_batch_shapes_.
  absl::StatusOr<std::vector<common::LatencyStats>> MeasureOnce(
      const std::vector<common::LayerShape>& shapes, bool force);

  ProfilerClient* const client_;
  const int max_batch_shapes_;
  const v1::MeasureOptions options_;
  const common::RemeasurePolicy remeasure_;
};

// The agent's statistics as the LUT keeps them.
common::LatencyStats LatencyStatsFromProto(const v1::LatencyStatistics& proto);

}  // namespace netadapt::rpc
