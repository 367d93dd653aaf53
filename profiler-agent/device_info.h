#pragma once

#include <string>

#include "common/latency_stats.h"
#include "netadapt/v1/latency.pb.h"

namespace netadapt::profiler {

// The fingerprint of the device `factory` measures on, as LUTs carry it:
//   device_name       the GPU's name on CUDA, else the board (Jetson: /proc/device-tree/model)
//                     or the CPU model (/proc/cpuinfo)
//   runtime_versions  from the factory (libtorch; cuda and cudnn on CUDA)
//   power_mode        `power_mode` when given, else Jetson's `nvpmodel -q` where available
//   extra             torch_device, cpu_model, cpu_count, intra_op_threads
// Reads /proc and may run nvpmodel: call once at start-up.
v1::DeviceFingerprint HostFingerprint(const common::RunnerFactory& factory,
                                      const std::string& power_mode = "");

}  // namespace netadapt::profiler
