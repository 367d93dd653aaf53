#include "master/job_store.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "netadapt/v1/job_store.pb.h"
#include "common/file_util.h"
#include "common/journal.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace netadapt::master {
namespace {

void Stamp(google::protobuf::Timestamp* timestamp) {
  const absl::Time now = absl::Now();
  const int64_t nanos = absl::ToUnixNanos(now);
  timestamp->set_seconds(nanos / 1000000000);
  timestamp->set_nanos(static_cast<int32_t>(nanos % 1000000000));
}

constexpr char kSnapshotFile[] = "snapshot.pb";
constexpr char kJournalFile[] = "journal.log";
constexpr char kLegacyDirectory[] = "jobs";
constexpr char kLegacyImportedDirectory[] = "jobs.imported";
// All jobs in one record: bounded higher than a journal record (one job), well under the
// framing's 4 GiB and protobuf's 2 GiB.
constexpr int64_t kMaxSnapshotBytes = int64_t{1} << 30;

}  // namespace

absl::StatusOr<int64_t> ParseJobName(absl::string_view name, absl::string_view field) {
  int64_t number = 0;
  if (!absl::StartsWith(name, "jobs/") || !absl::SimpleAtoi(name.substr(5), &number) ||
      number <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": \"", name, "\" is not a job name like \"jobs/7\""));
  }
  return number;
}

bool JobStore::IsTerminal(v1::Job::State state) {
  return state == v1::Job::SUCCEEDED || state == v1::Job::FAILED || state == v1::Job::CANCELLED;
}

JobStore::JobStore(std::string directory, JobStoreOptions options)
    : directory_(std::move(directory)), options_(options) {}

JobStore::~JobStore() = default;

absl::StatusOr<std::unique_ptr<JobStore>> JobStore::Open(const std::string& state_dir) {
  return Open(state_dir, JobStoreOptions());
}

absl::StatusOr<std::unique_ptr<JobStore>> JobStore::Open(const std::string& state_dir,
                                                         const JobStoreOptions& options) {
  std::error_code error;
  std::filesystem::create_directories(state_dir, error);
  if (error) {
    return absl::UnavailableError(absl::StrCat("state directory ", state_dir, ": ",
                                               error.message()));
  }
  auto store = std::unique_ptr<JobStore>(new JobStore(state_dir, options));
  absl::MutexLock lock(&store->mu_);
  NETADAPT_RETURN_IF_ERROR(store->LoadLocked());
  return store;
}

absl::Status JobStore::InsertLocked(v1::Job job, absl::string_view source) {
  absl::StatusOr<int64_t> number = ParseJobName(job.name());
  if (!number.ok()) {
    return absl::DataLossError(absl::StrCat(source, " holds a job named \"", job.name(),
                                            "\", not like \"jobs/7\""));
  }
  if (!job.request_id().empty()) by_request_[job.request_id()] = *number;
  next_number_ = std::max(next_number_, *number + 1);
  jobs_[*number] = std::move(job);
  return absl::OkStatus();
}

absl::Status JobStore::LoadLocked() {
  const auto log = common::Logger("master");
  const std::string snapshot_path = absl::StrCat(directory_, "/", kSnapshotFile);
  const std::string journal_path = absl::StrCat(directory_, "/", kJournalFile);
  // The first damage found; reading goes on only where what follows is still trustworthy.
  absl::Status damage;

  // 1. The snapshot.
  int64_t snapshot_sequence = 0;
  bool have_snapshot = false;
  absl::StatusOr<std::string> snapshot_bytes = common::ReadFile(snapshot_path);
  if (snapshot_bytes.ok()) {
    have_snapshot = true;
    absl::StatusOr<std::string> payload =
        common::ParseSingleRecord(*snapshot_bytes, snapshot_path, kMaxSnapshotBytes);
    v1::JobStoreSnapshot snapshot;
    if (!payload.ok()) {
      damage = payload.status();
    } else if (!snapshot.ParseFromString(*payload)) {
      damage = absl::DataLossError(absl::StrCat(
          snapshot_path, " is corrupt at byte offset ", common::kJournalHeaderBytes,
          ": its record does not parse as a JobStoreSnapshot"));
    } else {
      snapshot_sequence = snapshot.sequence();
      for (v1::Job& job : *snapshot.mutable_jobs()) {
        damage = InsertLocked(std::move(job), snapshot_path);
        if (!damage.ok()) break;
      }
    }
    // Nothing of a snapshot that does not check is served: it may be the bytes that lie.
    if (!damage.ok()) {
      jobs_.clear();
      by_request_.clear();
      next_number_ = 1;
    }
  } else if (!absl::IsNotFound(snapshot_bytes.status())) {
    have_snapshot = true;  // there is one; it just cannot be read
    damage = snapshot_bytes.status();
  }

  // 2. Legacy state: one file per job, written by versions before the journal. Imported only
  // when there is no snapshot; a snapshot written after the import holds them from then on.
  const std::string legacy_directory = absl::StrCat(directory_, "/", kLegacyDirectory);
  int legacy_jobs = 0;
  std::error_code error;
  if (!have_snapshot && std::filesystem::is_directory(legacy_directory, error)) {
    for (const auto& entry : std::filesystem::directory_iterator(legacy_directory, error)) {
      if (entry.path().extension() != ".pb") continue;
      const std::string path = entry.path().string();
      absl::StatusOr<std::string> bytes = common::ReadFile(path);
      v1::Job job;
      if (!bytes.ok()) {
        damage = bytes.status();
      } else if (!job.ParseFromString(*bytes)) {
        damage = absl::DataLossError(absl::StrCat("job file ", path, " does not parse"));
      } else {
        damage = InsertLocked(std::move(job), path);
      }
      if (!damage.ok()) break;
      ++legacy_jobs;
    }
    if (error && damage.ok()) {
      damage = absl::UnavailableError(absl::StrCat("cannot list ", legacy_directory, ": ",
                                                   error.message()));
    }
    legacy_to_rename_ = damage.ok();
    if (legacy_jobs > 0) {
      log->info("imported {} job file(s) of the previous format from {}", legacy_jobs,
                legacy_directory);
    }
  }

  // 3. The journal: whole jobs, the last record of a job wins. Replayed even after a bad
  // snapshot: each record is a whole job, so what it shows is true, if incomplete.
  absl::StatusOr<common::JournalContents> journal = common::ReadJournal(journal_path);
  int64_t last_sequence = 0;
  if (!journal.ok()) {
    if (damage.ok()) damage = journal.status();
  } else {
    for (size_t i = 0; i < journal->records.size(); ++i) {
      const int64_t offset = journal->offsets[i];
      v1::JobStoreRecord record;
      absl::Status bad;
      if (!record.ParseFromString(journal->records[i])) {
        bad = absl::DataLossError(absl::StrCat(journal_path, " is corrupt at byte offset ",
                                               offset,
                                               ": the record does not parse as a JobStoreRecord"));
      } else if (last_sequence > 0 && record.sequence() != last_sequence + 1) {
        bad = absl::DataLossError(absl::StrCat(
            journal_path, " is corrupt at byte offset ", offset, ": sequence ",
            record.sequence(), " follows ", last_sequence));
      } else if (record.sequence() > snapshot_sequence &&
                 record.sequence() != std::max(last_sequence, snapshot_sequence) + 1) {
        bad = absl::DataLossError(absl::StrCat(
            journal_path, " at byte offset ", offset, " starts at sequence ",
            record.sequence(), " but ", kSnapshotFile, " ends at ", snapshot_sequence,
            ": the changes between them are missing (snapshot.pb replaced or removed?)"));
      }
      if (!bad.ok()) {
        if (damage.ok()) damage = bad;
        break;
      }
      last_sequence = record.sequence();
      if (record.sequence() <= snapshot_sequence) continue;  // already in the snapshot
      absl::Status inserted =
          InsertLocked(std::move(*record.mutable_job()),
                       absl::StrCat(journal_path, " at byte offset ", offset));
      if (!inserted.ok()) {
        if (damage.ok()) damage = inserted;
        break;
      }
    }
    if (damage.ok()) damage = journal->corruption;
    if (journal->torn_bytes > 0) {
      log->warn("{}: dropped a torn tail of {} byte(s) at byte offset {} (the previous master "
                "stopped mid-write; that change was never acknowledged)",
                journal_path, journal->torn_bytes, journal->valid_bytes);
    }
  }
  sequence_ = std::max(snapshot_sequence, last_sequence);

  if (!damage.ok()) {
    damage_ = damage;
    log->error("job store is damaged and read-only ({} job(s) readable): {}. Jobs are not "
               "resumed and none can be created; see docs/RELIABILITY.md",
               jobs_.size(), damage.ToString());
    return absl::OkStatus();
  }
  NETADAPT_ASSIGN_OR_RETURN(journal_,
                            common::JournalWriter::Open(journal_path, journal->valid_bytes));
  if (legacy_to_rename_ || journal_->size() >= options_.compact_journal_bytes) {
    absl::Status compacted = CompactLocked();
    if (!compacted.ok()) {
      log->warn("cannot write a snapshot at start (retried after the next change): {}",
                compacted.ToString());
    }
  }
  return absl::OkStatus();
}

absl::Status JobStore::DamagedError() const {
  return absl::FailedPreconditionError(absl::StrCat(
      "the job store is read-only because its state on disk is damaged: ", damage_.message(),
      ". Stop the master, keep a copy of the state directory, then cut the journal at that "
      "offset (truncate -s OFFSET journal.log) or move the damaged file aside, and start "
      "again; see docs/RELIABILITY.md"));
}

absl::Status JobStore::PersistLocked(const v1::Job& job) {
  if (!damage_.ok()) return DamagedError();
  v1::JobStoreRecord record;
  record.set_sequence(sequence_ + 1);
  *record.mutable_job() = job;
  NETADAPT_RETURN_IF_ERROR(journal_->Append(record.SerializeAsString()));
  ++sequence_;
  return absl::OkStatus();
}

absl::Status JobStore::CompactLocked() {
  v1::JobStoreSnapshot snapshot;
  snapshot.set_sequence(sequence_);
  for (const auto& [number, job] : jobs_) *snapshot.add_jobs() = job;
  const std::string path = absl::StrCat(directory_, "/", kSnapshotFile);
  if (static_cast<int64_t>(snapshot.ByteSizeLong()) > kMaxSnapshotBytes) {
    // Never write a snapshot the next start would refuse; the journal keeps growing instead.
    return absl::ResourceExhaustedError(absl::StrCat("a snapshot of ", jobs_.size(),
                                                     " jobs would exceed ", kMaxSnapshotBytes,
                                                     " bytes; not writing ", path));
  }
  NETADAPT_RETURN_IF_ERROR(common::WriteFileAtomically(
      path, common::EncodeJournalRecord(snapshot.SerializeAsString())));
  // The snapshot is durable: every record of the journal is at or below its sequence and
  // would be skipped by a replay, so a crash before or after this cut reads the same state.
  NETADAPT_RETURN_IF_ERROR(journal_->Reset());
  if (legacy_to_rename_) {
    legacy_to_rename_ = false;
    const std::string from = absl::StrCat(directory_, "/", kLegacyDirectory);
    const std::string to = absl::StrCat(directory_, "/", kLegacyImportedDirectory);
    std::error_code error;
    if (std::filesystem::exists(from, error)) {
      std::filesystem::rename(from, to, error);
      // Harmless when it fails: jobs/ is read only when there is no snapshot.
      if (error) {
        common::Logger("master")->warn("cannot rename {} to {}: {}", from, to, error.message());
      }
    }
  }
  return absl::OkStatus();
}

void JobStore::MaybeCompactLocked() {
  if (journal_ == nullptr || journal_->size() < options_.compact_journal_bytes) return;
  absl::Status compacted = CompactLocked();
  // The change itself is durable in the journal; compaction is retried after the next one.
  if (!compacted.ok()) {
    common::Logger("master")->warn("cannot compact the job journal (retried after the next "
                                   "change): {}",
                                   compacted.ToString());
  }
}
absl::StatusOr<int64_t> BumpMasterEpoch(const std::string& state_dir) {
  std::error_code error;
  std::filesystem::create_directories(state_dir, error);
  if (error) {
    return absl::UnavailableError(absl::StrCat("state directory ", state_dir, ": ",
                                               error.message()));
  }
  const std::string path = state_dir + "/epoch";
  int64_t epoch = 0;
  if (std::filesystem::exists(path)) {
    NETADAPT_ASSIGN_OR_RETURN(std::string text, common::ReadFile(path));
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &epoch) || epoch < 0) {
      return absl::DataLossError(absl::StrCat("epoch file ", path, " holds \"", text,
                                              "\", not a number"));
    }
  }
  ++epoch;
  NETADAPT_RETURN_IF_ERROR(common::WriteFileAtomically(path, absl::StrCat(epoch, "\n")));
  return epoch;
}

absl::StatusOr<v1::Job> JobStore::Create(v1::Job job, bool* created) {
  v1::Job snapshot;
  {
    absl::MutexLock lock(&mu_);
    if (!job.request_id().empty()) {
      auto it = by_request_.find(job.request_id());
      if (it != by_request_.end()) {
        *created = false;
        return jobs_.at(it->second);
      }
    }
    const int64_t number = next_number_;
    job.set_name(absl::StrCat("jobs/", number));
    job.set_state(v1::Job::PENDING);
    Stamp(job.mutable_create_time());
    *job.mutable_update_time() = job.create_time();
    NETADAPT_RETURN_IF_ERROR(PersistLocked(job));
    ++next_number_;
    if (!job.request_id().empty()) by_request_[job.request_id()] = number;
    jobs_[number] = job;
    snapshot = job;
    MaybeCompactLocked();
  }
  *created = true;
  return snapshot;
}

absl::StatusOr<v1::Job> JobStore::Get(absl::string_view name) const {
  NETADAPT_ASSIGN_OR_RETURN(int64_t number, ParseJobName(name));
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(number);
  if (it == jobs_.end()) return absl::NotFoundError(absl::StrCat(name, " not found"));
  return it->second;
}

std::vector<v1::Job> JobStore::List(int offset, int limit, int* total) const {
  absl::MutexLock lock(&mu_);
  *total = static_cast<int>(jobs_.size());
  std::vector<v1::Job> page;
  int index = 0;
  for (auto it = jobs_.rbegin(); it != jobs_.rend() && static_cast<int>(page.size()) < limit;
       ++it, ++index) {
    if (index >= offset) page.push_back(it->second);
  }
  return page;
}

absl::StatusOr<v1::Job> JobStore::Update(absl::string_view name,
                                         const std::function<void(v1::Job&)>& mutate,
                                         bool persist) {
  NETADAPT_ASSIGN_OR_RETURN(int64_t number, ParseJobName(name));
  v1::Job snapshot;
  {
    absl::MutexLock lock(&mu_);
    auto it = jobs_.find(number);
    if (it == jobs_.end()) return absl::NotFoundError(absl::StrCat(name, " not found"));
    if (!damage_.ok()) return DamagedError();
    v1::Job changed = it->second;
    mutate(changed);
    Stamp(changed.mutable_update_time());
    if (persist) NETADAPT_RETURN_IF_ERROR(PersistLocked(changed));
    it->second = changed;
    snapshot = std::move(changed);
    // Notified under mu_ so that watchers see changes in order; watchers never block.
    Notify(snapshot);
    if (persist) MaybeCompactLocked();
  }
  return snapshot;
}

void JobStore::Notify(const v1::Job& job) {
  absl::MutexLock lock(&watchers_mu_);
  for (auto& [id, watcher] : watchers_) {
    if (watcher.job == job.name()) watcher.on_change(job);
  }
}

absl::StatusOr<int64_t> JobStore::Subscribe(absl::string_view name,
                                            std::function<void(const v1::Job&)> on_change) {
  NETADAPT_ASSIGN_OR_RETURN(int64_t number, ParseJobName(name));
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(number);
  if (it == jobs_.end()) return absl::NotFoundError(absl::StrCat(name, " not found"));
  absl::MutexLock watchers_lock(&watchers_mu_);
  on_change(it->second);
  const int64_t id = next_watcher_++;
  watchers_[id] = Watcher{std::string(name), std::move(on_change)};
  return id;
}

void JobStore::Unsubscribe(int64_t id) {
  absl::MutexLock lock(&watchers_mu_);
  watchers_.erase(id);
}

}  // namespace netadapt::master
