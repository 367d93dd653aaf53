#include "common/rpc/profiler_client.h"

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/latency_table.h"
#include "common/logging.h"
#include "common/rpc/grpc_status.h"
#include "common/status_macros.h"

namespace netadapt::rpc {

class ProfilerClient::InFlight {
 public:
  InFlight(ProfilerClient* client, absl::Duration timeout) : client_(client) {
    context_.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    absl::MutexLock lock(&client_->mu_);
    client_->in_flight_.insert(&context_);
  }
  ~InFlight() {
    absl::MutexLock lock(&client_->mu_);
    client_->in_flight_.erase(&context_);
  }
  grpc::ClientContext* context() { return &context_; }

 private:
  ProfilerClient* const client_;
  grpc::ClientContext context_;
};

ProfilerClient::ProfilerClient(std::shared_ptr<grpc::Channel> channel,
                               ProfilerClientOptions options)
    : owned_stub_(v1::ProfilerService::NewStub(std::move(channel))),
      stub_(owned_stub_.get()),
      options_(options) {}

ProfilerClient::ProfilerClient(v1::ProfilerService::StubInterface* stub,
                               ProfilerClientOptions options)
    : stub_(stub), options_(options) {}

ProfilerClient::~ProfilerClient() = default;

absl::StatusOr<v1::DescribeDeviceResponse> ProfilerClient::DescribeDevice() {
  InFlight call(this, options_.describe_timeout);
  v1::DescribeDeviceResponse response;
  absl::Status status = FromGrpcStatus(
      stub_->DescribeDevice(call.context(), v1::DescribeDeviceRequest(), &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::MeasureLayersResponse> ProfilerClient::MeasureLayers(
    const v1::MeasureLayersRequest& request) {
  InFlight call(this, options_.measure_timeout_base +
                          options_.measure_timeout_per_shape * request.shapes_size());
  v1::MeasureLayersResponse response;
  absl::Status status = FromGrpcStatus(stub_->MeasureLayers(call.context(), request, &response));
  if (!status.ok()) return status;
  if (response.measurements_size() != request.shapes_size()) {
    return absl::InternalError(absl::StrCat("profiler returned ", response.measurements_size(),
                                            " measurements for ", request.shapes_size(),
                                            " shapes"));
  }
  return response;
}

absl::StatusOr<v1::MeasureNetworkResponse> ProfilerClient::MeasureNetwork(
    const v1::MeasureNetworkRequest& request) {
  InFlight call(this, options_.network_timeout);
  v1::MeasureNetworkResponse response;
  absl::Status status = FromGrpcStatus(stub_->MeasureNetwork(call.context(), request, &response));
  if (!status.ok()) return status;
  return response;
}

void ProfilerClient::CancelAll() {
  absl::MutexLock lock(&mu_);
  for (grpc::ClientContext* context : in_flight_) context->TryCancel();
}

common::LatencyStats LatencyStatsFromProto(const v1::LatencyStatistics& proto) {
  common::LatencyStats stats;
  stats.median_ms = proto.median_ms();
  stats.p10_ms = proto.p10_ms();
  stats.p90_ms = proto.p90_ms();
  stats.mean_ms = proto.mean_ms();
  stats.stddev_ms = proto.stddev_ms();
  stats.samples = proto.samples();
  if (proto.has_conditions()) {
    stats.conditions = common::MeasurementConditionsFromProto(proto.conditions());
  }
  return stats;
}

GrpcLatencyMeasurer::GrpcLatencyMeasurer(ProfilerClient* client, int max_batch_shapes,
                                         v1::MeasureOptions options,
                                         common::RemeasurePolicy remeasure)
    : client_(client),
      max_batch_shapes_(std::max(1, max_batch_shapes)),
      options_(options),
      remeasure_(remeasure) {}

absl::StatusOr<std::vector<double>> GrpcLatencyMeasurer::MeasureMs(
    const std::vector<common::LayerShape>& shapes) {
  NETADAPT_ASSIGN_OR_RETURN(std::vector<common::LatencyStats> stats,
                            Measure(shapes, /*force=*/false));
  std::vector<double> latencies;
  latencies.reserve(stats.size());
  for (const common::LatencyStats& s : stats) latencies.push_back(s.median_ms);
  return latencies;
}

absl::StatusOr<std::vector<common::LatencyStats>> GrpcLatencyMeasurer::Measure(
    const std::vector<common::LayerShape>& shapes, bool force) {
  common::RemeasureReport report;
  absl::StatusOr<std::vector<common::LatencyStats>> stats = common::MeasureWithinSpread(
      [this](const std::vector<common::LayerShape>& batch, bool forced) {
        return MeasureOnce(batch, forced);
      },
      shapes, force, remeasure_, &report);
  if (stats.ok() && report.rounds > 0) {
    common::Logger("rpc")->info(
        "re-measured {} of {} shapes whose p90/p10 exceeded {:.2f} ({} round(s)); {} still "
        "wide (kept their tightest round)",
        report.remeasured, shapes.size(), remeasure_.max_spread, report.rounds,
        report.still_wide);
  }
  return stats;
}

absl::StatusOr<std::vector<common::LatencyStats>> GrpcLatencyMeasurer::MeasureOnce(
    const std::vector<common::LayerShape>& shapes, bool force) {
  std::vector<common::LatencyStats> stats;
  stats.reserve(shapes.size());
  for (size_t begin = 0; begin < shapes.size(); begin += max_batch_shapes_) {
    const size_t end = std::min(shapes.size(), begin + max_batch_shapes_);
    v1::MeasureLayersRequest request;
    *request.mutable_options() = options_;
    request.set_force(force);
    for (size_t i = begin; i < end; ++i) *request.add_shapes() = common::LayerShapeToProto(shapes[i]);
    absl::StatusOr<v1::MeasureLayersResponse> response = client_->MeasureLayers(request);
    if (!response.ok()) return response.status();
    for (const v1::LayerMeasurement& m : response->measurements()) {
      stats.push_back(LatencyStatsFromProto(m.latency()));
    }
  }
  return stats;
}

}  // namespace netadapt::rpc
