#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "netadapt/v1/resources.pb.h"

namespace netadapt::common {
class JournalWriter;
}  // namespace netadapt::common

namespace netadapt::master {

struct JobStoreOptions {
  // Once the journal holds this many bytes, the next persisted change also writes a new
  // snapshot and empties the journal (it then costs a snapshot write, under the store's lock).
  int64_t compact_journal_bytes = int64_t{4} << 20;
};

// The jobs of the master, durable, so a restarted master shows the same jobs and history.
// Watchers get every change. Thread-safe; transport-free.
//
// On disk (docs/RELIABILITY.md, docs/OPERATIONS.md), in `state_dir`:
//   snapshot.pb   every job as of a sequence number: one v1::JobStoreSnapshot in a CRC-checked
//                 record (common/journal.h), replaced atomically.
//   journal.log   one record per persisted change since (v1::JobStoreRecord: a sequence
//                 number and the whole job after the change), appended and fsynced before the
//                 change is applied or acknowledged.
// Open reads the snapshot and replays the journal; records at or below the snapshot's
// sequence are skipped, so a crash between writing a snapshot and emptying the journal
// replays correctly. jobs/<n>.pb files of the previous format are imported (see Open).
class JobStore {
 public:
  // Loads the jobs under `state_dir` (created if missing). Jobs that were still PENDING or
  // RUNNING when the previous master stopped are kept as they were persisted, for
  // JobManager::ResumeInterrupted to continue them.
  //
  // A torn journal tail (the previous master died mid-append) is dropped with a warning. A
  // corrupt journal record, an unreadable snapshot or a gap in the sequence numbers does not
  // fail Open: the store opens *damaged* (see damage()), read-only, serving what was read
  // before the damage. Legacy state (jobs/<n>.pb, no snapshot.pb) is imported; once a
  // snapshot holds it, jobs/ is renamed jobs.imported/ (kept as a backup, never read again).
  //
  // Fails only when the directory is unusable: Unavailable (FailedPrecondition for
  // permissions) naming it when it cannot be created or the journal cannot be opened.
  static absl::StatusOr<std::unique_ptr<JobStore>> Open(const std::string& state_dir);
  static absl::StatusOr<std::unique_ptr<JobStore>> Open(const std::string& state_dir,
                                                        const JobStoreOptions& options);
  ~JobStore();

  // OK when the state on disk was read whole. Otherwise DataLoss (or the read error) naming
  // the file and byte offset where reading stopped: the store is read-only (Create and
  // Update fail with FailedPrecondition) and the master must not resume jobs. Fixed once
  // Open returns.
  absl::Status damage() const { return damage_; }

  // Creates a job from `job` (spec and request_id filled in), assigning its name
  // ("jobs/<n>"), state PENDING and times, and persists it. When `request_id` is not empty
  // and a job was already created with it, returns that job and `created` false. Errors as
  // Update's.
  absl::StatusOr<v1::Job> Create(v1::Job job, bool* created);

  // NotFound naming the job.
  absl::StatusOr<v1::Job> Get(absl::string_view name) const;
  // Newest first, from `offset`; `total` gets the number of jobs.
  std::vector<v1::Job> List(int offset, int limit, int* total) const;

  // Applies `mutate` to the stored job, stamps update_time, persists it, then notifies
  // watchers. NotFound for an unknown job; the write error when persisting fails (the change
  // is then not applied). With `persist` false the change is only in memory and reaches
  // watchers (progress, the worker a task runs on): it goes to disk with the next persisted
  // change, and each persisted change costs an fsync (one journal append).
  // Persisting fails with ResourceExhausted naming the file and "no space left on device"
  // when the disk is full (retrying once space is freed succeeds), Unavailable on other I/O
  // errors. FailedPrecondition naming the damaged file, the offset and what to do when the
  // store is damaged (even with `persist` false).
  absl::StatusOr<v1::Job> Update(absl::string_view name,
                                 const std::function<void(v1::Job&)>& mutate,
                                 bool persist = true);

  // Calls `on_change` with the job now and after each change, from the thread that made the
  // change (it must not block or call back into the store). Returns an id for Unsubscribe.
  absl::StatusOr<int64_t> Subscribe(absl::string_view name,
                                    std::function<void(const v1::Job&)> on_change);
  void Unsubscribe(int64_t id);

  static bool IsTerminal(v1::Job::State state);

 private:
  friend class JobStoreTestPeer;  // tests/master/job_store_test.cc: swaps the journal
  JobStore(std::string directory, JobStoreOptions options);
  // Reads snapshot, legacy files and journal into memory; sets damage_. Fails only when the
  // journal cannot be opened for appending.
  absl::Status LoadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Adds a job read from `source` to the maps; DataLoss naming `source` for a bad name.
  absl::Status InsertLocked(v1::Job job, absl::string_view source)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Appends `job` to the journal (fsynced). The in-memory maps are not touched.
  absl::Status PersistLocked(const v1::Job& job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes a snapshot of every job, then empties the journal; renames the legacy jobs/.
  absl::Status CompactLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MaybeCompactLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status DamagedError() const;
  void Notify(const v1::Job& job);

  const std::string directory_;
  const JobStoreOptions options_;
  absl::Status damage_;  // written by Open only
  mutable absl::Mutex mu_;
  std::map<int64_t, v1::Job> jobs_ ABSL_GUARDED_BY(mu_);  // by number
  std::map<std::string, int64_t> by_request_ ABSL_GUARDED_BY(mu_);
  int64_t next_number_ ABSL_GUARDED_BY(mu_) = 1;
  std::unique_ptr<common::JournalWriter> journal_ ABSL_GUARDED_BY(mu_);  // null when damaged
  int64_t sequence_ ABSL_GUARDED_BY(mu_) = 0;  // of the last persisted change
  bool legacy_to_rename_ ABSL_GUARDED_BY(mu_) = false;  // jobs/ imported, not yet snapshotted

  struct Watcher {
    std::string job;
    std::function<void(const v1::Job&)> on_change;
  };
  absl::Mutex watchers_mu_ ABSL_ACQUIRED_AFTER(mu_);
  std::map<int64_t, Watcher> watchers_ ABSL_GUARDED_BY(watchers_mu_);
  int64_t next_watcher_ ABSL_GUARDED_BY(watchers_mu_) = 1;
};

// Increments the master epoch kept in <state_dir>/epoch (0 when the file is missing), writes
// it atomically and returns it: each start of a master on `state_dir` gets a larger epoch,
// carried in task headers. DataLoss when the file is not a number; the write error otherwise.
absl::StatusOr<int64_t> BumpMasterEpoch(const std::string& state_dir);

// "jobs/12" -> 12. InvalidArgument naming `field` when malformed.
absl::StatusOr<int64_t> ParseJobName(absl::string_view name, absl::string_view field = "name");

}  // namespace netadapt::master
