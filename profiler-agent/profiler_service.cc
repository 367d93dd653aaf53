#include "profiler-agent/profiler_service.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/latency_table.h"
#include "common/logging.h"
#include "common/network_def_json.h"
#include "common/rpc/grpc_status.h"

namespace netadapt::profiler {
namespace {

using rpc::ToGrpcStatus;

// A unary reactor that raises a flag when its call is cancelled, so queued work for the call
// can be dropped. Finish() is called exactly once by the code that completes the work
// (possibly after OnCancel); the reactor deletes itself in OnDone, after Finish.
class CancellableReactor final : public grpc::ServerUnaryReactor {
 public:
  CancellableReactor() : cancelled_(std::make_shared<std::atomic<bool>>(false)) {}

  void OnCancel() override { cancelled_->store(true); }
  void OnDone() override { delete this; }

  const CancelFlag& cancelled() const { return cancelled_; }

 private:
  const CancelFlag cancelled_;
};

common::MeasureOptions FromProto(const v1::MeasureOptions& p) {
  common::MeasureOptions o;
  o.warmup_runs = p.warmup_runs();
  o.min_runs = p.min_runs();
  o.max_runs = p.max_runs();
  o.relative_tolerance = p.relative_tolerance();
  o.max_time_ms = p.max_time_ms();
  return o;  // unset (zero) fields take the Profiler's defaults
}

void ToProto(const common::LatencyStats& s, v1::LatencyStatistics* p) {
  p->set_median_ms(s.median_ms);
  p->set_p10_ms(s.p10_ms);
  p->set_p90_ms(s.p90_ms);
  p->set_mean_ms(s.mean_ms);
  p->set_stddev_ms(s.stddev_ms);
  p->set_samples(s.samples);
  if (s.conditions) *p->mutable_conditions() = common::MeasurementConditionsToProto(*s.conditions);
}

}  // namespace

grpc::ServerUnaryReactor* ProfilerServiceImpl::MeasureLayers(
    grpc::CallbackServerContext* context, const v1::MeasureLayersRequest* request,
    v1::MeasureLayersResponse* response) {
  auto* reactor = new CancellableReactor();
  common::Logger("profiler")->debug("MeasureLayers from {}: {} shapes{}", context->peer(),
                                    request->shapes_size(), request->force() ? " (force)" : "");
  std::vector<common::LayerShape> shapes;
  shapes.reserve(request->shapes_size());
  for (int i = 0; i < request->shapes_size(); ++i) {
    absl::StatusOr<common::LayerShape> shape =
        common::LayerShapeFromProto(request->shapes(i), absl::StrCat("shapes[", i, "]"));
    if (!shape.ok()) {
      reactor->Finish(ToGrpcStatus(shape.status()));
      return reactor;
    }
    shapes.push_back(*std::move(shape));
  }
  if (shapes.empty()) {
    reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "shapes: none given"));
    return reactor;
  }
  profiler_->MeasureLayers(
      std::move(shapes), FromProto(request->options()), request->force(), reactor->cancelled(),
      [this, reactor, response](absl::StatusOr<std::vector<LayerResult>> results) {
        if (!results.ok()) {
          reactor->Finish(ToGrpcStatus(results.status()));
          return;
        }
        for (const LayerResult& result : *results) {
          v1::LayerMeasurement* m = response->add_measurements();
          *m->mutable_shape() = common::LayerShapeToProto(result.shape);
          ToProto(result.stats, m->mutable_latency());
          m->set_cached(result.cached);
        }
        *response->mutable_device() = profiler_->fingerprint();
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

grpc::ServerUnaryReactor* ProfilerServiceImpl::MeasureNetwork(
    grpc::CallbackServerContext* context, const v1::MeasureNetworkRequest* request,
    v1::MeasureNetworkResponse* response) {
  auto* reactor = new CancellableReactor();
  common::Logger("profiler")->debug("MeasureNetwork from {}: {}", context->peer(),
                                    request->network().name());
  absl::StatusOr<common::NetworkDef> network = common::NetworkDefFromProto(request->network());
  if (!network.ok()) {
    reactor->Finish(ToGrpcStatus(absl::InvalidArgumentError(
        absl::StrCat("network: ", network.status().message()))));
    return reactor;
  }
  profiler_->MeasureNetwork(
      *std::move(network), request->batch() == 0 ? 1 : request->batch(),
      FromProto(request->options()), reactor->cancelled(),
      [this, reactor, response](absl::StatusOr<common::LatencyStats> stats) {
        if (!stats.ok()) {
          reactor->Finish(ToGrpcStatus(stats.status()));
          return;
        }
        ToProto(*stats, response->mutable_latency());
        *response->mutable_device() = profiler_->fingerprint();
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

grpc::ServerUnaryReactor* ProfilerServiceImpl::DescribeDevice(
    grpc::CallbackServerContext* context, const v1::DescribeDeviceRequest* /*request*/,
    v1::DescribeDeviceResponse* response) {
  *response->mutable_fingerprint() = profiler_->fingerprint();
  response->set_torch_device(profiler_->device());
  response->set_max_batch_shapes(profiler_->options().max_batch_shapes);
  response->set_max_memory_bytes(profiler_->options().max_memory_bytes);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace netadapt::profiler
