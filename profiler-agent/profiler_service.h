#pragma once

#include "netadapt/v1/profiler.grpc.pb.h"
#include "profiler-agent/profiler.h"

namespace netadapt::profiler {

// gRPC adapter of Profiler (callback API): converts and validates requests, queues them on
// the Profiler and finishes each call from its callback; a cancelled call (client cancel or
// deadline) sets the request's CancelFlag so its remaining measurements are skipped.
// `profiler` is not owned and must outlive the server. Thread-safe.
class ProfilerServiceImpl final : public v1::ProfilerService::CallbackService {
 public:
  explicit ProfilerServiceImpl(Profiler* profiler) : profiler_(profiler) {}

  grpc::ServerUnaryReactor* MeasureLayers(grpc::CallbackServerContext* context,
                                          const v1::MeasureLayersRequest* request,
                                          v1::MeasureLayersResponse* response) override;
  grpc::ServerUnaryReactor* MeasureNetwork(grpc::CallbackServerContext* context,
                                           const v1::MeasureNetworkRequest* request,
                                           v1::MeasureNetworkResponse* response) override;
  grpc::ServerUnaryReactor* DescribeDevice(grpc::CallbackServerContext* context,
                                           const v1::DescribeDeviceRequest* request,
                                           v1::DescribeDeviceResponse* response) override;

 private:
  Profiler* const profiler_;
};

}  // namespace netadapt::profiler
