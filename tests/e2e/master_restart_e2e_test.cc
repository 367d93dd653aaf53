// A master killed (SIGKILL) in the middle of an iteration and started again on the same state
// directory and port: the real netadapt-master and two netadapt-worker processes on loopback.
// The job resumes (the workers register again by themselves) and ends with the same
// decisions as an undisturbed run of the same spec and seed (docs/RELIABILITY.md).
#include <grpcpp/grpcpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/journal.h"
#include "common/rpc/channel.h"
#include "netadapt/v1/job_service.grpc.pb.h"
#include "tests/testing/e2e_jobs.h"
#include "tests/testing/server_process.h"

namespace netadapt {
namespace {

class MasterRestartE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    state_dir_ = absl::StrCat(::testing::TempDir(), "/e2e_master_restart_", getpid());
    const std::string clean = absl::StrCat("rm -rf '", state_dir_, "'");
    ASSERT_EQ(std::system(clean.c_str()), 0);
    std::string error;
    std::optional<int> port = StartMaster(0, &error);
    ASSERT_TRUE(port) << error;
    port_ = *port;
    for (int i = 0; i < 2; ++i) {
      std::optional<int> worker = workers_[i].Start(
          NETADAPT_WORKER_BINARY,
          {absl::StrCat("--master=127.0.0.1:", port_), "--device=cpu", "--threads=1",
           absl::StrCat("--cache_dir=", state_dir_, "/worker", i)},
          std::chrono::seconds(30), &error);
      ASSERT_TRUE(worker) << error;
      worker_addresses_[i] = absl::StrCat("127.0.0.1:", *worker);
    }
    ASSERT_TRUE(WaitForWorkers());
  }

  std::optional<int> StartMaster(int port, std::string* error) {
    std::optional<int> bound = master_.Start(
        NETADAPT_MASTER_BINARY,
        {"--state_dir=" + state_dir_ + "/master", "--heartbeat_interval_ms=200"},
        std::chrono::seconds(30), error, port);
    if (bound) {
      jobs_ = v1::JobService::NewStub(rpc::MakeChannel(absl::StrCat("127.0.0.1:", *bound)));
    }
    return bound;
  }

  bool WaitForWorkers() {
    for (int i = 0; i < 200; ++i) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
      v1::ListWorkersResponse workers;
      if (jobs_->ListWorkers(&context, {}, &workers).ok() && workers.workers_size() == 2) {
        return true;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    return false;
  }

  // conv(1->16) - pool - conv(16->32) - pool - conv(32->32) - linear, adapted on MACs
  // (deterministic, no profiler) over several iterations. Three blocks on two workers: the
  // third block's tasks run while the first two have finished.
  static v1::JobSpec Spec() {
    v1::JobSpec spec;
    spec.set_dataset("synthetic:classes=4,shape=1x16x16,train=512,test=256,seed=3,noise=1");
    *spec.mutable_network() = testing::TinyNetwork(/*third_conv=*/true);
    spec.set_holdout_size(128);
    spec.set_resource_type(v1::RESOURCE_TYPE_FLOPS);
    spec.set_budget_ratio(0.4);
    spec.set_init_resource_reduction_ratio(0.15);
    spec.set_resource_reduction_decay(1.0);
    spec.set_max_iters(10);
    spec.set_short_term_fine_tune_iteration(150);
    spec.set_finetune_lr(0.02);
    spec.set_batch_size(32);
    spec.set_channel_step(2);
    spec.set_seed(11);
    return spec;
  }

  std::optional<v1::Job> Create(const std::string& request_id) {
    return testing::CreateJob(*jobs_, Spec(), request_id);
  }

  std::optional<v1::Job> Get(const std::string& name) { return testing::GetJob(*jobs_, name); }

  std::optional<v1::Job> WaitFor(const std::string& name,
                                 const std::function<bool(const v1::Job&)>& done,
                                 absl::Duration timeout) {
    return testing::WaitForJob(*jobs_, name, done, timeout);
  }

  static bool Ended(const v1::Job& job) { return testing::JobEnded(job); }

  std::vector<v1::Worker> ListWorkers() {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::ListWorkersResponse workers;
    if (!jobs_->ListWorkers(&context, {}, &workers).ok()) return {};
    return {workers.workers().begin(), workers.workers().end()};
  }

  // The state the master shows for `worker` (a name), once it matches `wanted` (or timeout).
  bool WaitForWorkerState(const std::string& worker, v1::Worker::State wanted,
                          absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      for (const v1::Worker& w : ListWorkers()) {
        if (w.name() == worker && w.state() == wanted) return true;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    return false;
  }

  // Index into workers_ of the process behind a worker name; -1 when none.
  int ProcessOf(const std::string& worker) {
    for (const v1::Worker& w : ListWorkers()) {
      for (int i = 0; i < 2; ++i) {
        if (w.name() == worker && w.address() == worker_addresses_[i]) return i;
      }
    }
    return -1;
  }

  // Waits for a proposal of job `name` to be fine-tuning on a known worker; that worker's
  // name, or empty when the job ended first.
  std::string WorkerFineTuning(const std::string& name) {
    std::string worker;
    std::optional<v1::Job> job = WaitFor(
        name,
        [&](const v1::Job& j) {
          for (const v1::Proposal& p : j.proposals()) {
            if (p.state() == v1::Proposal::FINE_TUNING && !p.worker().empty()) {
              worker = p.worker();
              return true;
            }
          }
          return Ended(j);
        },
        absl::Seconds(60));
    return job && !Ended(*job) ? worker : "";
  }

  // A finished run of Spec() on the undisturbed cluster, for the fault tests to compare with.
  std::optional<v1::Job> Reference() {
    std::optional<v1::Job> created = Create("reference");
    if (!created) return std::nullopt;
    std::optional<v1::Job> reference = WaitFor(created->name(), Ended, absl::Seconds(60));
    if (!reference || reference->state() != v1::Job::SUCCEEDED) {
      ADD_FAILURE() << (reference ? reference->reason() : "no reference job");
      return std::nullopt;
    }
    return reference;
  }

  // The state directory (journal, artifacts, worker caches: ~30 MB) goes with a passing
  // test and stays for a failed one's post-mortem. The processes stop first: a master still
  // writing would race the removal.
  void TearDown() override {
    master_.Kill();
    workers_[0].Kill();
    workers_[1].Kill();
    if (!HasFailure() && !state_dir_.empty()) std::filesystem::remove_all(state_dir_);
  }

  testing::ServerProcess master_, workers_[2];
  std::string worker_addresses_[2];
  std::string state_dir_;
  int port_ = 0;
  std::unique_ptr<v1::JobService::Stub> jobs_;
};

TEST_F(MasterRestartE2eTest, KilledMidIterationResumesToTheUndisturbedResult) {
  // The undisturbed run.
  std::optional<v1::Job> created = Create("reference");
  ASSERT_TRUE(created);
  std::optional<v1::Job> reference = WaitFor(created->name(), Ended, absl::Seconds(60));
  ASSERT_TRUE(reference && reference->state() == v1::Job::SUCCEEDED)
      << (reference ? reference->reason() : "no job");
  ASSERT_GE(reference->history_size(), 3);

  // The same spec, its master killed in iteration 2 or later while a proposal fine-tunes and
  // another has finished (or, when polling misses every such moment, while a proposal of the
  // last iteration fine-tunes).
  created = Create("interrupted");
  ASSERT_TRUE(created);
  const std::string name = created->name();
  const int last_iteration = reference->history_size();
  auto mixed = [](const v1::Job& job) {
    bool tuning = false, finished = false;
    for (const v1::Proposal& p : job.proposals()) {
      tuning |= p.state() == v1::Proposal::FINE_TUNING;
      finished |= p.state() == v1::Proposal::SUCCEEDED;
    }
    return tuning && finished;
  };
  std::optional<v1::Job> before = WaitFor(
      name,
      [&](const v1::Job& job) {
        if (job.current_iteration() < 2 || Ended(job)) return Ended(job);
        if (mixed(job)) return true;
        return job.current_iteration() == last_iteration &&
               std::any_of(job.proposals().begin(), job.proposals().end(),
                           [](const v1::Proposal& p) {
                             return p.state() == v1::Proposal::FINE_TUNING;
                           });
      },
      absl::Seconds(60));
  ASSERT_TRUE(before && before->current_iteration() >= 2 && !Ended(*before))
      << (before ? before->DebugString() : "no job");
  ASSERT_TRUE(master_.Stop(SIGKILL, std::chrono::seconds(10)));

  // Started again on the same state directory and port; the workers come back by themselves.
  std::string error;
  std::optional<int> port = StartMaster(port_, &error);
  ASSERT_TRUE(port) << error;
  ASSERT_EQ(*port, port_);
  std::optional<v1::Job> after = Get(name);
  ASSERT_TRUE(after);
  EXPECT_NE(after->state(), v1::Job::FAILED) << after->reason();
  EXPECT_GE(after->history_size(), before->history_size());  // nothing finished was lost
  std::optional<v1::Job> resumed = WaitFor(name, Ended, absl::Seconds(60));
  ASSERT_TRUE(resumed);
  ASSERT_EQ(resumed->state(), v1::Job::SUCCEEDED) << resumed->reason();

  // The same decisions as the undisturbed run.
  testing::ExpectSameDecisions(*reference, *resumed);
  EXPECT_THAT(resumed->final().widths(), ::testing::ElementsAreArray(reference->final().widths()));

  // The proposals that had finished before the kill were kept, not run again: the interrupted
  // iteration's history shows their original timings.
  const v1::Iteration& interrupted = resumed->history(before->current_iteration() - 1);
  int kept = 0;
  for (const v1::Proposal& p : before->proposals()) {
    if (p.state() != v1::Proposal::SUCCEEDED) continue;
    ++kept;
    ASSERT_LT(p.block(), interrupted.proposals_size());
    const v1::Proposal& q = interrupted.proposals(p.block());
    EXPECT_EQ(q.model_digest(), p.model_digest()) << "block " << p.block();
    EXPECT_EQ(q.fine_tune_seconds(), p.fine_tune_seconds()) << "block " << p.block();
  }
  if (mixed(*before)) {
    EXPECT_GT(kept, 0);
  }
}

// A worker killed (SIGKILL) while it fine-tunes a proposal: its stream to the master breaks,
// the task is retried on the other worker, and the job decides as an undisturbed run does
// (a task's result depends on its seed, not on the worker or the attempt).
TEST_F(MasterRestartE2eTest, WorkerKilledMidTaskIsRetriedElsewhere) {
  std::optional<v1::Job> created = Create("reference");
  ASSERT_TRUE(created);
  std::optional<v1::Job> reference = WaitFor(created->name(), Ended, absl::Seconds(60));
  ASSERT_TRUE(reference && reference->state() == v1::Job::SUCCEEDED)
      << (reference ? reference->reason() : "no job");

  created = Create("disturbed");
  ASSERT_TRUE(created);
  const std::string name = created->name();
  std::string victim;  // the worker of a proposal being fine-tuned
  std::optional<v1::Job> before = WaitFor(
      name,
      [&](const v1::Job& job) {
        for (const v1::Proposal& p : job.proposals()) {
          if (p.state() == v1::Proposal::FINE_TUNING && !p.worker().empty()) {
            victim = p.worker();
            return true;
          }
        }
        return Ended(job);
      },
      absl::Seconds(60));
  ASSERT_TRUE(before && !Ended(*before) && !victim.empty())
      << (before ? before->DebugString() : "no job");
  // The process behind that worker name.
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::ListWorkersResponse workers;
  ASSERT_TRUE(jobs_->ListWorkers(&context, {}, &workers).ok());
  int index = -1;
  for (const v1::Worker& w : workers.workers()) {
    for (int i = 0; i < 2; ++i) {
      if (w.name() == victim && w.address() == worker_addresses_[i]) index = i;
    }
  }
  ASSERT_GE(index, 0) << victim;
  ASSERT_TRUE(workers_[index].Stop(SIGKILL, std::chrono::seconds(10)));

  std::optional<v1::Job> done = WaitFor(name, Ended, absl::Seconds(90));
  ASSERT_TRUE(done);
  ASSERT_EQ(done->state(), v1::Job::SUCCEEDED) << done->reason();
  testing::ExpectSameDecisions(*reference, *done);
  // The killed worker left the pool.
  grpc::ClientContext again;
  again.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  ASSERT_TRUE(jobs_->ListWorkers(&again, {}, &workers).ok());
  for (const v1::Worker& w : workers.workers()) {
    if (w.name() == victim) {
      EXPECT_EQ(w.state(), v1::Worker::DEAD);
    }
  }
}

// A zombie worker: frozen (SIGSTOP) while it fine-tunes a proposal, so its TCP connection
// stays open and its stream never fails. The master declares it dead after its missed
// heartbeats, gives its task up at once and runs it on the other worker; resumed (SIGCONT)
// later, the zombie finds its stream cancelled (its late result has nowhere to go) and
// registers again by itself. The job decides as an undisturbed run, each iteration once.
TEST_F(MasterRestartE2eTest, ZombieWorkerIsGivenUpAndComesBack) {
  std::optional<v1::Job> reference = Reference();
  ASSERT_TRUE(reference);

  std::optional<v1::Job> created = Create("disturbed");
  ASSERT_TRUE(created);
  const std::string victim = WorkerFineTuning(created->name());
  ASSERT_FALSE(victim.empty()) << "the job ended before a proposal was fine-tuning";
  const int index = ProcessOf(victim);
  ASSERT_GE(index, 0) << victim;
  const absl::Time frozen = absl::Now();
  workers_[index].Signal(SIGSTOP);
  // 5 missed heartbeats of 200 ms.
  ASSERT_TRUE(WaitForWorkerState(victim, v1::Worker::DEAD, absl::Seconds(10)));
  const absl::Duration detected = absl::Now() - frozen;
  EXPECT_LT(detected, absl::Seconds(5));
  absl::SleepFor(absl::Seconds(2));  // a zombie well past its lease
  workers_[index].Signal(SIGCONT);
  EXPECT_TRUE(WaitForWorkerState(victim, v1::Worker::ALIVE, absl::Seconds(15)))
      << "the resumed worker did not register again";

  std::optional<v1::Job> done = WaitFor(created->name(), Ended, absl::Seconds(120));
  ASSERT_TRUE(done);
  ASSERT_EQ(done->state(), v1::Job::SUCCEEDED) << done->reason();
  testing::ExpectSameDecisions(*reference, *done);
}

// A worker killed in the middle of uploading a result (after its first chunk, with the
// stream still open): a failpoint makes it SIGKILL itself at that exact point. The master
// discards the partial upload, the task is retried on the other worker, and the job decides
// as an undisturbed run.
TEST_F(MasterRestartE2eTest, WorkerKilledMidUploadIsRetriedElsewhere) {
  std::optional<v1::Job> reference = Reference();
  ASSERT_TRUE(reference);

  // Worker 0 again, dying on the second chunk it sends (its first upload completes).
  ASSERT_TRUE(workers_[0].Stop(SIGTERM, std::chrono::seconds(10)));
  setenv("NETADAPT_FAILPOINTS", "artifact.send.after_chunk=kill@2", 1);
  std::string error;
  std::optional<int> port = workers_[0].Start(
      NETADAPT_WORKER_BINARY,
      {absl::StrCat("--master=127.0.0.1:", port_), "--device=cpu", "--threads=1",
       absl::StrCat("--cache_dir=", state_dir_, "/worker0-failpoint")},
      std::chrono::seconds(30), &error);
  unsetenv("NETADAPT_FAILPOINTS");
  ASSERT_TRUE(port) << error;
  worker_addresses_[0] = absl::StrCat("127.0.0.1:", *port);
  // Two workers alive: the new one, and the other; the stopped one is declared dead after
  // its missed heartbeats (it does not unregister).
  auto ready = [&] {
    int alive = 0;
    bool restarted = false;
    for (const v1::Worker& w : ListWorkers()) {
      if (w.state() != v1::Worker::ALIVE) continue;
      ++alive;
      restarted |= w.address() == worker_addresses_[0];
    }
    return alive == 2 && restarted;
  };
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  while (!ready() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(20));
  ASSERT_TRUE(ready());

  std::optional<v1::Job> created = Create("disturbed");
  ASSERT_TRUE(created);
  const std::optional<int> exit = workers_[0].WaitForExit(std::chrono::seconds(60));
  ASSERT_TRUE(exit) << "the failpoint never fired";
  ASSERT_TRUE(WIFSIGNALED(*exit) && WTERMSIG(*exit) == SIGKILL) << "wait status " << *exit;

  std::optional<v1::Job> done = WaitFor(created->name(), Ended, absl::Seconds(120));
  ASSERT_TRUE(done);
  ASSERT_EQ(done->state(), v1::Job::SUCCEEDED) << done->reason();
  testing::ExpectSameDecisions(*reference, *done);
  // Nothing of the broken upload is left in the master's artifact store.
  const std::string tmp = state_dir_ + "/master/artifacts/tmp";
  ASSERT_TRUE(std::filesystem::is_directory(tmp));
  EXPECT_TRUE(std::filesystem::is_empty(tmp));
}

// A journal corrupted in the middle (a flipped byte in a record that is followed by others):
// the restarted master does not crash-loop and does not proceed on garbage. It serves the
// jobs read before the damage, refuses changes with FAILED_PRECONDITION naming the file and
// the offset, and resumes nothing. Once the operator cuts the journal at that offset (the
// documented recovery), the next start resumes the interrupted job to the undisturbed result.
TEST_F(MasterRestartE2eTest, CorruptedJournalIsReadOnlyUntilRepaired) {
  std::optional<v1::Job> reference = Reference();
  ASSERT_TRUE(reference);
  std::optional<v1::Job> created = Create("interrupted");
  ASSERT_TRUE(created);
  std::optional<v1::Job> iterating = WaitFor(
      created->name(), [](const v1::Job& j) { return j.history_size() >= 1 || Ended(j); },
      absl::Seconds(60));
  ASSERT_TRUE(iterating && !Ended(*iterating));
  ASSERT_TRUE(master_.Stop(SIGKILL, std::chrono::seconds(10)));

  // Flip a payload byte of the second-to-last record: the interrupted job's.
  const std::string journal = state_dir_ + "/master/journal.log";
  absl::StatusOr<common::JournalContents> contents = common::ReadJournal(journal);
  ASSERT_TRUE(contents.ok()) << contents.status();
  ASSERT_GE(contents->records.size(), 3u);
  const int64_t damaged_at = contents->offsets[contents->offsets.size() - 2];
  {
    std::fstream file(journal, std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(damaged_at + common::kJournalHeaderBytes + 3);
    const char byte = static_cast<char>(file.get());
    file.seekp(damaged_at + common::kJournalHeaderBytes + 3);
    file.put(static_cast<char>(byte ^ 0x5a));
  }

  std::string error;
  ASSERT_TRUE(StartMaster(port_, &error)) << error;
  std::optional<v1::Job> finished = Get(reference->name());
  ASSERT_TRUE(finished) << "the jobs before the damage are served";
  EXPECT_EQ(finished->state(), v1::Job::SUCCEEDED);
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::CreateJobRequest request;
    *request.mutable_spec() = Spec();
    v1::Job job;
    const grpc::Status refused = jobs_->CreateJob(&context, request, &job);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_THAT(refused.error_message(), ::testing::HasSubstr("journal.log"));
    EXPECT_THAT(refused.error_message(), ::testing::HasSubstr(absl::StrCat(damaged_at)));
  }
  // Nothing resumes on a damaged state: the interrupted job does not move.
  std::optional<v1::Job> frozen = Get(created->name());
  ASSERT_TRUE(frozen);
  absl::SleepFor(absl::Seconds(2));
  std::optional<v1::Job> still = Get(created->name());
  ASSERT_TRUE(still);
  EXPECT_EQ(still->update_time().seconds(), frozen->update_time().seconds());
  EXPECT_EQ(still->update_time().nanos(), frozen->update_time().nanos());

  // The operator's repair: cut the journal where the damage starts, start again.
  ASSERT_TRUE(master_.Stop(SIGTERM, std::chrono::seconds(10)));
  std::filesystem::resize_file(journal, damaged_at);
  ASSERT_TRUE(StartMaster(port_, &error)) << error;
  std::optional<v1::Job> done = WaitFor(created->name(), Ended, absl::Seconds(120));
  ASSERT_TRUE(done);
  ASSERT_EQ(done->state(), v1::Job::SUCCEEDED) << done->reason();
  testing::ExpectSameDecisions(*reference, *done);
}

}  // namespace
}  // namespace netadapt
