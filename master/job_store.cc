#include "master/job_store.h"

#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/file_util.h"
#include "common/status_macros.h"

namespace netadapt::master {
namespace {

void Stamp(google::protobuf::Timestamp* timestamp) {
  const absl::Time now = absl::Now();
  const int64_t nanos = absl::ToUnixNanos(now);
  timestamp->set_seconds(nanos / 1000000000);
  timestamp->set_nanos(static_cast<int32_t>(nanos % 1000000000));
}

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

absl::StatusOr<std::unique_ptr<JobStore>> JobStore::Open(const std::string& state_dir) {
  const std::string directory = state_dir + "/jobs";
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) {
    return absl::UnavailableError(absl::StrCat("state directory ", directory, ": ",
                                               error.message()));
  }
  auto store = std::unique_ptr<JobStore>(new JobStore(directory));
  absl::MutexLock lock(&store->mu_);
  for (const auto& entry : std::filesystem::directory_iterator(directory)) {
    if (entry.path().extension() != ".pb") continue;
    NETADAPT_ASSIGN_OR_RETURN(std::string bytes, common::ReadFile(entry.path().string()));
    v1::Job job;
    if (!job.ParseFromString(bytes)) {
      return absl::DataLossError(absl::StrCat("job file ", entry.path().string(),
                                              " does not parse"));
    }
    NETADAPT_ASSIGN_OR_RETURN(int64_t number, ParseJobName(job.name()));
    if (!job.request_id().empty()) store->by_request_[job.request_id()] = number;
    store->next_number_ = std::max(store->next_number_, number + 1);
    store->jobs_[number] = std::move(job);
  }
  return store;
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

absl::Status JobStore::Persist(const v1::Job& job) const {
  NETADAPT_ASSIGN_OR_RETURN(int64_t number, ParseJobName(job.name()));
  std::string bytes;
  job.SerializeToString(&bytes);
  return common::WriteFileAtomically(absl::StrCat(directory_, "/", number, ".pb"), bytes);
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
    NETADAPT_RETURN_IF_ERROR(Persist(job));
    ++next_number_;
    if (!job.request_id().empty()) by_request_[job.request_id()] = number;
    jobs_[number] = job;
    snapshot = job;
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
    v1::Job changed = it->second;
    mutate(changed);
    Stamp(changed.mutable_update_time());
    if (persist) NETADAPT_RETURN_IF_ERROR(Persist(changed));
    it->second = changed;
    snapshot = std::move(changed);
    // Notified under mu_ so that watchers see changes in order; watchers never block.
    Notify(snapshot);
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
