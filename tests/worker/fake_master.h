#pragma once

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/latency_estimate.h"
#include "common/latency_table.h"
#include "common/sha256.h"
#include "common/synthetic_latency.h"
#include "worker/task_executor.h"

namespace netadapt::worker::testing {

// An in-memory master: artifacts by digest, latencies from
// common::SyntheticLatencyMs, and counters of what was asked. Thread-safe.
class FakeMasterConnection final : public MasterConnection {
 public:
  explicit FakeMasterConnection(common::SyntheticLatencyOptions latency = {}) : latency_(latency) {}

  absl::StatusOr<std::string> FetchArtifact(absl::string_view digest) override {
    absl::MutexLock lock(&mu_);
    ++fetches_;
    auto it = artifacts_.find(digest);
    if (it == artifacts_.end()) {
      return absl::NotFoundError(absl::StrCat("artifact ", digest, " not found"));
    }
    return it->second;
  }

  absl::StatusOr<std::string> PutArtifact(absl::string_view content) override {
    absl::MutexLock lock(&mu_);
    ++puts_;
    std::string digest = common::Sha256Hex(content);
    artifacts_[digest] = std::string(content);
    return digest;
  }

  absl::StatusOr<std::vector<double>> LookupLatency(
      absl::string_view job, const std::vector<common::LayerShape>& shapes) override {
    absl::MutexLock lock(&mu_);
    if (job != "jobs/1") return absl::NotFoundError(absl::StrCat("job ", job, " not found"));
    ++lookup_calls_;
    lookup_shapes_ += static_cast<int64_t>(shapes.size());
    std::vector<double> latencies;
    for (const common::LayerShape& shape : shapes) {
      latencies.push_back(common::SyntheticLatencyMs(shape, latency_));
      if (!table_.Find(shape)) {
        table_.Insert(shape, latencies.back());
        ++measured_;
      }
    }
    return latencies;
  }

  // Estimates from the shapes looked up so far (a measuring job's master), or Unimplemented
  // after OfferEstimates(false) (an older master).
  absl::StatusOr<std::vector<double>> EstimateLatency(
      absl::string_view job, const std::vector<common::LayerShape>& shapes) override {
    absl::MutexLock lock(&mu_);
    if (!offers_estimates_) return absl::UnimplementedError("EstimateLatency");
    if (job != "jobs/1") return absl::NotFoundError(absl::StrCat("job ", job, " not found"));
    ++estimate_calls_;
    std::vector<double> latencies;
    for (const common::LayerShape& shape : shapes) {
      absl::StatusOr<double> latency = common::EstimateLatencyMs(table_, shape);
      if (!latency.ok()) return latency.status();
      latencies.push_back(*latency);
    }
    return latencies;
  }
  void OfferEstimates(bool offer) {
    absl::MutexLock lock(&mu_);
    offers_estimates_ = offer;
  }

  // Stores `content` as if uploaded; its digest.
  std::string Add(absl::string_view content) {
    absl::MutexLock lock(&mu_);
    std::string digest = common::Sha256Hex(content);
    artifacts_[digest] = std::string(content);
    return digest;
  }
  std::string Get(absl::string_view digest) {
    absl::MutexLock lock(&mu_);
    auto it = artifacts_.find(digest);
    return it == artifacts_.end() ? std::string() : it->second;
  }
  int64_t lookup_calls() {
    absl::MutexLock lock(&mu_);
    return lookup_calls_;
  }
  int64_t lookup_shapes() {
    absl::MutexLock lock(&mu_);
    return lookup_shapes_;
  }
  // Distinct shapes looked up so far: what a profiler agent would have measured.
  int64_t measured() {
    absl::MutexLock lock(&mu_);
    return measured_;
  }
  int64_t estimate_calls() {
    absl::MutexLock lock(&mu_);
    return estimate_calls_;
  }
  int64_t fetches() {
    absl::MutexLock lock(&mu_);
    return fetches_;
  }

 private:
  const common::SyntheticLatencyOptions latency_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::string> artifacts_ ABSL_GUARDED_BY(mu_);
  int64_t fetches_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t puts_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t lookup_calls_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t lookup_shapes_ ABSL_GUARDED_BY(mu_) = 0;
  common::LatencyTable table_ ABSL_GUARDED_BY(mu_);
  int64_t measured_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t estimate_calls_ ABSL_GUARDED_BY(mu_) = 0;
  bool offers_estimates_ ABSL_GUARDED_BY(mu_) = true;
};

}  // namespace netadapt::worker::testing
