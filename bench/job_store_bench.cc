// job_store_bench: what one durable change of a job costs the master. A JobStore on
// --dir (default: the system's temp directory; put it on the disk the master's state
// directory will live on) holds --jobs jobs shaped like real ones (a spec with a 10-layer
// network, a history of --history iterations of 3 proposals each); each round persists one
// proposal outcome per job (JobStore::Update with persist true: one journal append and
// fdatasync). Prints the latency percentiles of a persisted update, the same for an
// in-memory one (persist false: progress), the journal's size per record and how many
// snapshots compaction wrote; then the time to open (replay) the state it left.
//
//   build/bench/job_store_bench [--jobs=20] [--updates=300] [--history=10] [--dir=DIR]
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/network_def_json.h"
#include "common/zoo.h"
#include "master/job_store.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(int, jobs, 20, "Jobs in the store.");
ABSL_FLAG(int, updates, 300, "Persisted updates per job.");
ABSL_FLAG(int, history, 10, "Iterations in each job's history.");
ABSL_FLAG(std::string, dir, "", "State directory to use (emptied first); default: a temp dir.");

namespace netadapt {
namespace {

v1::Job RealisticJob(int history) {
  v1::Job job;
  absl::StatusOr<common::NetworkDef> network = common::ZooNetwork("alexnet");
  if (!network.ok()) {
    std::cerr << network.status() << "\n";
    std::exit(1);
  }
  *job.mutable_spec()->mutable_network() = common::NetworkDefToProto(*network);
  job.mutable_spec()->set_dataset("cifar10:/data/cifar-10-batches-bin");
  for (int i = 1; i <= history; ++i) {
    v1::Iteration& iteration = *job.add_history();
    iteration.set_iteration(i);
    *iteration.mutable_result()->mutable_network() = job.spec().network();
    iteration.mutable_result()->set_model_digest(std::string(64, 'a'));
    for (int b = 0; b < 3; ++b) {
      v1::Proposal& p = *iteration.add_proposals();
      p.set_block(b);
      p.set_layer(absl::StrCat("features.", b));
      p.set_state(v1::Proposal::SUCCEEDED);
      p.set_model_digest(std::string(64, 'b'));
    }
  }
  for (int b = 0; b < 8; ++b) job.add_proposals()->set_block(b);
  return job;
}

double Percentile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  return values[static_cast<size_t>(q * (values.size() - 1))];
}

}  // namespace
}  // namespace netadapt

int main(int argc, char** argv) {
  using namespace netadapt;
  absl::ParseCommandLine(argc, argv);
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  spdlog::set_level(spdlog::level::warn);
  std::string dir = absl::GetFlag(FLAGS_dir);
  if (dir.empty()) {
    dir = (std::filesystem::temp_directory_path() / "netadapt_job_store_bench").string();
  }
  std::filesystem::remove_all(dir);
  absl::StatusOr<std::unique_ptr<master::JobStore>> store = master::JobStore::Open(dir);
  if (!store.ok()) {
    std::cerr << "--dir: " << store.status() << "\n";
    return 1;
  }
  const v1::Job shape = RealisticJob(absl::GetFlag(FLAGS_history));
  std::vector<std::string> names;
  for (int i = 0; i < absl::GetFlag(FLAGS_jobs); ++i) {
    bool created = false;
    absl::StatusOr<v1::Job> job = (*store)->Create(shape, &created);
    if (!job.ok()) {
      std::cerr << job.status() << "\n";
      return 1;
    }
    names.push_back(job->name());
  }
  std::vector<double> persisted_us, memory_us;
  for (int round = 0; round < absl::GetFlag(FLAGS_updates); ++round) {
    for (const std::string& name : names) {
      for (bool persist : {true, false}) {
        const absl::Time start = absl::Now();
        absl::StatusOr<v1::Job> updated = (*store)->Update(
            name,
            [&](v1::Job& j) {
              v1::Proposal& p = *j.mutable_proposals(round % j.proposals_size());
              p.set_step(round);
              p.set_state(persist ? v1::Proposal::SUCCEEDED : v1::Proposal::FINE_TUNING);
            },
            persist);
        if (!updated.ok()) {
          std::cerr << updated.status() << "\n";
          return 1;
        }
        (persist ? persisted_us : memory_us)
            .push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
      }
    }
  }
  std::string record;
  shape.SerializeToString(&record);
  // (A state directory of the one-file-per-job format, before the journal, has none.)
  const std::string journal = dir + "/journal.log";
  const int64_t journal_bytes =
      std::filesystem::exists(journal) ? std::filesystem::file_size(journal) : 0;
  store->reset();
  const absl::Time open_start = absl::Now();
  store = master::JobStore::Open(dir);
  const double open_ms = absl::ToDoubleMilliseconds(absl::Now() - open_start);
  if (!store.ok()) {
    std::cerr << "reopen failed\n";
    return 1;
  }
  std::cout << absl::StrFormat(
      "%d jobs of %d KiB (a %d-iteration history), %d persisted updates each, in %s\n",
      names.size(), record.size() / 1024, absl::GetFlag(FLAGS_history),
      absl::GetFlag(FLAGS_updates), dir);
  std::cout << absl::StrFormat("persisted update (durable):           p50 %.0f us, p90 %.0f us, "
                               "p99 %.0f us\n",
                               Percentile(persisted_us, 0.5), Percentile(persisted_us, 0.9),
                               Percentile(persisted_us, 0.99));
  std::cout << absl::StrFormat("in-memory update (progress):          p50 %.1f us, p99 %.1f us\n",
                               Percentile(memory_us, 0.5), Percentile(memory_us, 0.99));
  std::cout << absl::StrFormat("journal left: %.1f MiB; reopening (snapshot + replay): %.1f ms\n",
                               journal_bytes / 1048576.0, open_ms);
  std::filesystem::remove_all(dir);
  return 0;
}
