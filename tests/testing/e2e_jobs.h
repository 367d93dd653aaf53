#pragma once
// JobService helpers for the end-to-end tests that drive a real master: calls with a deadline
// (a failed call is nullopt, not a crash), polling until a job reaches a condition, and the
// comparison the fault tests make with an undisturbed run. Also the tiny network they adapt.

#include <grpcpp/grpcpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/network_def_json.h"
#include "netadapt/v1/job_service.grpc.pb.h"

namespace netadapt::testing {

// conv(1->16) - pool - conv(16->32) - pool [- conv(32->32)] - linear on 1x16x16 inputs: two
// (or three) blocks that train in milliseconds on the synthetic dataset.
inline v1::NetworkDef TinyNetwork(bool third_conv = false) {
  const std::string third = third_conv ? R"(
        {"name": "features.6", "op": "conv2d", "in_channels": 32, "out_channels": 32,
         "kernel_size": [3], "padding": [1]},
        {"name": "features.7", "op": "relu"},)"
                                       : "";
  auto network = common::NetworkDefFromJson(R"({
      "name": "tiny", "input": {"channels": 1, "height": 16, "width": 16},
      "layers": [
        {"name": "features.0", "op": "conv2d", "in_channels": 1, "out_channels": 16,
         "kernel_size": [3], "padding": [1]},
        {"name": "features.1", "op": "relu"},
        {"name": "features.2", "op": "maxpool2d", "kernel_size": [2], "stride": [2]},
        {"name": "features.3", "op": "conv2d", "in_channels": 16, "out_channels": 32,
         "kernel_size": [3], "padding": [1]},
        {"name": "features.4", "op": "relu"},
        {"name": "features.5", "op": "maxpool2d", "kernel_size": [2], "stride": [2]},)" +
                                            third + R"(
        {"name": "flatten", "op": "flatten"},
        {"name": "classifier", "op": "linear", "in_channels": 512, "out_channels": 4}]})");
  EXPECT_TRUE(network.ok()) << network.status();
  return network.ok() ? common::NetworkDefToProto(*network) : v1::NetworkDef();
}

// CreateJob; a failure is reported to the test and gives nullopt.
inline std::optional<v1::Job> CreateJob(v1::JobService::Stub& jobs, const v1::JobSpec& spec,
                                        const std::string& request_id) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::CreateJobRequest request;
  *request.mutable_spec() = spec;
  request.set_request_id(request_id);
  v1::Job job;
  const grpc::Status status = jobs.CreateJob(&context, request, &job);
  if (!status.ok()) {
    ADD_FAILURE() << "CreateJob: " << status.error_message();
    return std::nullopt;
  }
  return job;
}

// GetJob; nullopt when the call fails (the master may be restarting).
inline std::optional<v1::Job> GetJob(v1::JobService::Stub& jobs, const std::string& name) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::GetJobRequest request;
  request.set_name(name);
  v1::Job job;
  if (!jobs.GetJob(&context, request, &job).ok()) return std::nullopt;
  return job;
}

// Polls until `done` holds for the job or `timeout` passes; the last job seen.
inline std::optional<v1::Job> WaitForJob(v1::JobService::Stub& jobs, const std::string& name,
                                         const std::function<bool(const v1::Job&)>& done,
                                         absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::optional<v1::Job> job;
  while (absl::Now() < deadline) {
    job = GetJob(jobs, name);
    if (job && done(*job)) return job;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return job;
}

inline bool JobEnded(const v1::Job& job) {
  return job.state() == v1::Job::SUCCEEDED || job.state() == v1::Job::FAILED ||
         job.state() == v1::Job::CANCELLED;
}

// Two runs of one spec decide the same, iteration by iteration (each committed once, in
// order), and end with the same accuracy.
inline void ExpectSameDecisions(const v1::Job& reference, const v1::Job& other) {
  ASSERT_EQ(other.history_size(), reference.history_size());
  for (int i = 0; i < reference.history_size(); ++i) {
    const v1::Iteration& a = reference.history(i);
    const v1::Iteration& b = other.history(i);
    EXPECT_EQ(b.iteration(), i + 1);
    EXPECT_EQ(b.target_resource(), a.target_resource()) << "iteration " << i + 1;
    EXPECT_EQ(b.chosen_block(), a.chosen_block()) << "iteration " << i + 1;
    EXPECT_EQ(b.result().resource(), a.result().resource()) << "iteration " << i + 1;
    EXPECT_EQ(b.result().accuracy(), a.result().accuracy()) << "iteration " << i + 1;
    EXPECT_THAT(b.result().widths(), ::testing::ElementsAreArray(a.result().widths()));
  }
  EXPECT_EQ(other.final().accuracy(), reference.final().accuracy());
}

}  // namespace netadapt::testing
