#pragma once

#include <cstdint>
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

// The host's load now, for MeasurementConditions: /proc/loadavg's 1-minute average and
// runnable tasks, CPUs online and in this process's affinity mask (involuntary_switches 0;
// see InvoluntarySwitches). Fields stay 0 where /proc cannot be read. Cheap (one small read).
common::MeasurementConditions HostLoadNow();

// Involuntary context switches of this process so far (getrusage); the difference across a
// measurement says whether other work took the agent's CPU during it.
int64_t InvoluntarySwitches();

}  // namespace netadapt::profiler
