#include "master/job_record.h"

#include <memory>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/logging.h"
#include "spdlog/spdlog.h"

namespace netadapt::master {
namespace {

std::shared_ptr<spdlog::logger> Log() { return common::Logger("master"); }

}  // namespace

JobRecord::JobRecord(std::string job, JobStore& store, Cancellation& cancellation,
                     JobRecordOptions options)
    : job_(std::move(job)), store_(store), cancellation_(cancellation), options_(options) {}

absl::Status JobRecord::Commit(const std::function<void(v1::Job&)>& mutate) {
  bool paused = false;
  while (true) {
    absl::StatusOr<v1::Job> updated = store_.Update(job_, [&](v1::Job& j) {
      if (j.state() == v1::Job::PAUSED) {
        j.set_state(v1::Job::RUNNING);
        j.clear_reason();
      }
      mutate(j);
    });
    if (updated.ok()) {
      if (paused) Log()->info("[job={}] the master's disk takes writes again: resumed", job_);
      return absl::OkStatus();
    }
    if (!absl::IsResourceExhausted(updated.status())) return updated.status();
    // The disk is full: nothing of this change is applied (JobStore::Update's contract); the
    // job waits, saying why, and tries again, so no state is lost or corrupted.
    if (!paused) {
      paused = true;
      Log()->error("[job={}] paused: {}", job_, updated.status().ToString());
      (void)store_.Update(
          job_,
          [&](v1::Job& j) {
            if (JobStore::IsTerminal(j.state())) return;
            j.set_state(v1::Job::PAUSED);
            j.set_reason(absl::StrCat("paused: the master cannot write its state (",
                                      updated.status().message(),
                                      "); the job continues when space is freed"));
          },
          /*persist=*/false);
    }
    const bool cancelled = cancellation_.SleepUnlessCancelled(options_.disk_full_retry_interval);
    // The master's shutdown leaves the job as persisted; a user's Cancel still has to be
    // written, so it waits for the disk like any other change.
    if (cancellation_.shutdown()) return updated.status();
    if (cancelled) absl::SleepFor(options_.disk_full_retry_interval);
  }
}

void JobRecord::SetProposal(int block, const std::function<void(v1::Proposal&)>& mutate,
                            bool persist) {
  auto change = [&](v1::Job& j) {
    if (block < j.proposals_size()) mutate(*j.mutable_proposals(block));
  };
  if (persist) {
    (void)Commit(change);
  } else {
    (void)store_.Update(job_, change, /*persist=*/false);
  }
}

void JobRecord::SetActivity(const std::string& activity, int64_t step, int64_t total,
                            bool persist) {
  auto mutate = [&](v1::Job& j) {
    j.set_activity(activity);
    j.set_activity_step(step);
    j.set_activity_total(total);
  };
  if (persist) {
    (void)Commit(mutate);
  } else {
    (void)store_.Update(job_, mutate, /*persist=*/false);
  }
}

TaskRunner::Progress JobRecord::ActivityProgress(const std::string& activity) {
  // Shared by the attempts of a task (a straggler's backup reports too), hence the lock.
  struct Last {
    absl::Mutex mu;
    absl::Time time = absl::InfinitePast();
  };
  auto last = std::make_shared<Last>();
  return [this, activity, last](const v1::TaskProgress& progress) {
    {
      absl::MutexLock lock(&last->mu);
      if (absl::Now() - last->time < options_.progress_interval) return;
      last->time = absl::Now();
    }
    SetActivity(activity, progress.step(), progress.total_steps(), /*persist=*/false);
  };
}

void JobRecord::RecordSkipped(const v1::TaskResult& result) {
  if (result.skipped_images() == 0 && result.skipped_files().empty()) return;
  // The job keeps at most this many paths; skipped_images still counts every image.
  constexpr int kMaxSkippedFiles = 1000;
  (void)Commit([&](v1::Job& j) {
    std::set<std::string> files(j.skipped_files().begin(), j.skipped_files().end());
    files.insert(result.skipped_files().begin(), result.skipped_files().end());
    j.clear_skipped_files();
    for (const std::string& file : files) {
      if (j.skipped_files_size() == kMaxSkippedFiles) break;
      j.add_skipped_files(file);
    }
    j.set_skipped_images(j.skipped_images() + result.skipped_images());
  });
}

}  // namespace netadapt::master
