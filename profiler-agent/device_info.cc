#include "profiler-agent/device_info.h"

#include <sched.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace netadapt::profiler {
namespace {

std::string ReadSmallFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return "";
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// The value of the first "key : value" line of `text` whose key is `key`.
std::string FieldOf(const std::string& text, absl::string_view key, char separator) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(line, separator);
    if (absl::StripAsciiWhitespace(kv.first) == key) {
      return std::string(absl::StripAsciiWhitespace(kv.second));
    }
  }
  return "";
}

std::string CpuModel() {
  const std::string cpuinfo = ReadSmallFile("/proc/cpuinfo");
  std::string model = FieldOf(cpuinfo, "model name", ':');
  if (model.empty()) model = FieldOf(cpuinfo, "Hardware", ':');  // some ARM kernels
  if (model.empty()) model = FieldOf(cpuinfo, "CPU part", ':');
  return model.empty() ? "unknown CPU" : model;
}

// Jetson and other device-tree boards name themselves here (NUL-terminated).
std::string BoardModel() {
  std::string model = ReadSmallFile("/proc/device-tree/model");
  while (!model.empty() && (model.back() == '\0' || model.back() == '\n')) model.pop_back();
  return model;
}

// The first NVIDIA GPU's name from the driver's proc files (desktop/server GPUs).
std::string DriverGpuName() {
  FILE* pipe = popen("cat /proc/driver/nvidia/gpus/*/information 2>/dev/null", "r");
  if (pipe == nullptr) return "";
  std::string text;
  char buffer[512];
  while (fgets(buffer, sizeof(buffer), pipe) != nullptr) text += buffer;
  pclose(pipe);
  return FieldOf(text, "Model", ':');
}

// Jetson's power mode, e.g. "MAXN", from `nvpmodel -q` ("NV Power Mode: MAXN").
std::string NvpModelPowerMode() {
  struct stat st;
  const bool present = stat("/usr/sbin/nvpmodel", &st) == 0 || stat("/usr/bin/nvpmodel", &st) == 0;
  if (!present) return "";
  FILE* pipe = popen("nvpmodel -q 2>/dev/null", "r");
  if (pipe == nullptr) return "";
  std::string text;
  char buffer[512];
  while (fgets(buffer, sizeof(buffer), pipe) != nullptr) text += buffer;
  pclose(pipe);
  return FieldOf(text, "NV Power Mode", ':');
}

}  // namespace

v1::DeviceFingerprint HostFingerprint(const common::RunnerFactory& factory,
                                      const std::string& power_mode) {
  v1::DeviceFingerprint fingerprint;
  const std::string device = factory.device();
  const std::string cpu = CpuModel();
  const std::string board = BoardModel();
  std::string name;
  if (absl::StartsWith(device, "cuda")) {
    name = factory.AcceleratorName();
    if (name.empty()) name = board;  // Jetson: the GPU is the board's
    if (name.empty()) name = DriverGpuName();
    if (name.empty()) name = "NVIDIA GPU";
  } else {
    name = !board.empty() && absl::StrContains(board, "Jetson") ? board : cpu;
  }
  fingerprint.set_device_name(name);
  for (const auto& [key, value] : factory.RuntimeVersions()) {
    (*fingerprint.mutable_runtime_versions())[key] = value;
  }
  fingerprint.set_power_mode(power_mode.empty() ? NvpModelPowerMode() : power_mode);
  auto& extra = *fingerprint.mutable_extra();
  extra["torch_device"] = device;
  extra["cpu_model"] = cpu;
  extra["cpu_count"] = absl::StrCat(std::thread::hardware_concurrency());
  extra["intra_op_threads"] = absl::StrCat(factory.Threads());
  return fingerprint;
}

common::MeasurementConditions HostLoadNow() {
  common::MeasurementConditions c;
  // "0.52 0.58 0.59 3/612 12345": averages over 1, 5, 15 minutes, runnable/total tasks, last pid.
  const std::vector<std::string> fields =
      absl::StrSplit(ReadSmallFile("/proc/loadavg"), ' ', absl::SkipWhitespace());
  if (fields.size() >= 4) {
    double load = 0;
    if (absl::SimpleAtod(fields[0], &load)) c.load_avg_1m = load;
    int runnable = 0;
    const std::vector<std::string> tasks = absl::StrSplit(fields[3], '/');
    if (absl::SimpleAtoi(tasks[0], &runnable)) c.runnable_tasks = runnable;
  }
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  c.cpus_online = online > 0 ? static_cast<int>(online) : 0;
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof(allowed), &allowed) == 0) c.cpus_allowed = CPU_COUNT(&allowed);
  return c;
}

int64_t InvoluntarySwitches() {
  struct rusage usage;
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  return usage.ru_nivcsw;
}

}  // namespace netadapt::profiler
