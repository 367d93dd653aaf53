#include "common/rpc/profiler_client.h"

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/latency_table.h"
#include "common/rpc/grpc_status.h"

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

GrpcLatencyMeasurer::GrpcLatencyMeasurer(ProfilerClient* client, int max_batch_shapes,
                                         v1::MeasureOptions options)
    : client_(client), max_batch_shapes_(std::max(1, max_batch_shapes)), options_(options) {}

absl::StatusOr<std::vector<double>> GrpcLatencyMeasurer::MeasureMs(
    const std::vector<common::LayerShape>& shapes) {
  std::vector<double> latencies;
  latencies.reserve(shapes.size());
  for (size_t begin = 0; begin < shapes.size(); begin += max_batch_shapes_) {
    const size_t end = std::min(shapes.size(), begin + max_batch_shapes_);
    v1::MeasureLayersRequest request;
    *request.mutable_options() = options_;
    for (size_t i = begin; i < end; ++i) *request.add_shapes() = common::LayerShapeToProto(shapes[i]);
    absl::StatusOr<v1::MeasureLayersResponse> response = client_->MeasureLayers(request);
    if (!response.ok()) return response.status();
    for (const v1::LayerMeasurement& m : response->measurements()) {
      latencies.push_back(m.latency().median_ms());
    }
  }
  return latencies;
}

}  // namespace netadapt::rpc
