#include "master/job_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include <google/protobuf/util/message_differencer.h>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/journal.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::master {

// Reaches the store's journal writer: the disk-full test points it at /dev/full.
class JobStoreTestPeer {
 public:
  static std::unique_ptr<common::JournalWriter> SwapJournal(
      JobStore& store, std::unique_ptr<common::JournalWriter> journal) {
    absl::MutexLock lock(&store.mu_);
    std::swap(store.journal_, journal);
    return journal;
  }
};

namespace {

using ::netadapt::testing::IsOk;
using ::netadapt::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

std::string FreshDirectory() {
  const std::string directory = ::testing::TempDir() + "/job_store_" +
                                ::testing::UnitTest::GetInstance()->current_test_info()->name();
  std::filesystem::remove_all(directory);
  return directory;
}

v1::Job Spec(const std::string& request_id, const std::string& dataset = "synthetic:") {
  v1::Job job;
  job.mutable_spec()->set_dataset(dataset);
  job.set_request_id(request_id);
  return job;
}

TEST(JobStoreTest, CreatesNumberedJobsAndDeduplicatesRequestIds) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(FreshDirectory()));
  bool created = false;
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job first, store->Create(Spec("r1"), &created));
  EXPECT_TRUE(created);
  EXPECT_EQ(first.name(), "jobs/1");
  EXPECT_EQ(first.state(), v1::Job::PENDING);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job second, store->Create(Spec(""), &created));
  EXPECT_EQ(second.name(), "jobs/2");
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job retry, store->Create(Spec("r1", "other"), &created));
  EXPECT_FALSE(created);
  EXPECT_EQ(retry.name(), "jobs/1");
  EXPECT_EQ(retry.spec().dataset(), "synthetic:");
  int total = 0;
  const std::vector<v1::Job> page = store->List(0, 1, &total);
  EXPECT_EQ(total, 2);
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].name(), "jobs/2");  // newest first
}

TEST(JobStoreTest, RestartKeepsHistoryAndInterruptedJobsAsTheyWere) {
  const std::string directory = FreshDirectory();
  {
    NETADAPT_ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(directory));
    bool created = false;
    ASSERT_TRUE(store->Create(Spec("a"), &created).ok());
    ASSERT_TRUE(store->Create(Spec("b"), &created).ok());
    ASSERT_TRUE(store->Update("jobs/1", [](v1::Job& j) {
                        j.set_state(v1::Job::SUCCEEDED);
                        j.add_history()->set_iteration(1);
                      }).ok());
    ASSERT_TRUE(store->Update("jobs/2", [](v1::Job& j) {
                        j.set_state(v1::Job::RUNNING);
                        j.set_current_iteration(3);
                      }).ok());
  }
  NETADAPT_ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(directory));
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job done, store->Get("jobs/1"));
  EXPECT_EQ(done.state(), v1::Job::SUCCEEDED);
  EXPECT_EQ(done.history_size(), 1);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job interrupted, store->Get("jobs/2"));
  // Kept as persisted: JobManager::ResumeInterrupted continues it.
  EXPECT_EQ(interrupted.state(), v1::Job::RUNNING);
  EXPECT_EQ(interrupted.current_iteration(), 3);
  bool created = false;
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job retry, store->Create(Spec("a"), &created));
  EXPECT_FALSE(created);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job third, store->Create(Spec("c"), &created));
  EXPECT_EQ(third.name(), "jobs/3");
}

TEST(JobStoreTest, EachStartBumpsTheMasterEpoch) {
  const std::string directory = FreshDirectory();
  NETADAPT_ASSERT_OK_AND_ASSIGN(int64_t first, BumpMasterEpoch(directory));
  NETADAPT_ASSERT_OK_AND_ASSIGN(int64_t second, BumpMasterEpoch(directory));
  EXPECT_EQ(first, 1);
  EXPECT_EQ(second, 2);
  ASSERT_TRUE(common::WriteFileAtomically(directory + "/epoch", "garbage").ok());
  EXPECT_THAT(BumpMasterEpoch(directory).status(), StatusIs(absl::StatusCode::kDataLoss));
}

TEST(JobStoreTest, WatchersSeeTheJobThenEveryChange) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(FreshDirectory()));
  bool created = false;
  ASSERT_TRUE(store->Create(Spec("w"), &created).ok());
  std::vector<v1::Job::State> seen;
  NETADAPT_ASSERT_OK_AND_ASSIGN(
      int64_t id, store->Subscribe("jobs/1", [&](const v1::Job& j) { seen.push_back(j.state()); }));
  ASSERT_TRUE(store->Update("jobs/1", [](v1::Job& j) { j.set_state(v1::Job::RUNNING); }).ok());
  store->Unsubscribe(id);
  ASSERT_TRUE(store->Update("jobs/1", [](v1::Job& j) { j.set_state(v1::Job::FAILED); }).ok());
  EXPECT_THAT(seen, ::testing::ElementsAre(v1::Job::PENDING, v1::Job::RUNNING));
}

TEST(JobStoreTest, BadNamesAndUnknownJobs) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(FreshDirectory()));
  EXPECT_THAT(store->Get("job/1").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("name")));
  EXPECT_THAT(store->Get("jobs/0").status(), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store->Get("jobs/9").status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("jobs/9")));
  EXPECT_THAT(store->Update("jobs/9", [](v1::Job&) {}).status(),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store->Subscribe("jobs/9", [](const v1::Job&) {}).status(),
              StatusIs(absl::StatusCode::kNotFound));
}

// Every job the store lists, oldest first.
std::vector<v1::Job> AllJobs(const JobStore& store) {
  int total = 0;
  std::vector<v1::Job> jobs = store.List(0, 1 << 20, &total);
  std::reverse(jobs.begin(), jobs.end());
  return jobs;
}

void ExpectSameJobs(const std::vector<v1::Job>& actual, const std::vector<v1::Job>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(actual[i], expected[i]))
        << actual[i].DebugString() << " vs " << expected[i].DebugString();
  }
}

// Creates `jobs` jobs and gives each `updates` persisted changes (history entries, states).
void Populate(JobStore& store, int jobs, int updates) {
  bool created = false;
  for (int j = 0; j < jobs; ++j) {
    ASSERT_THAT(store.Create(Spec(absl::StrCat("populate-", j)), &created), IsOk());
  }
  for (int u = 0; u < updates; ++u) {
    for (int j = 1; j <= jobs; ++j) {
      ASSERT_THAT(store.Update(absl::StrCat("jobs/", j),
                               [u](v1::Job& job) {
                                 job.set_state(v1::Job::RUNNING);
                                 job.set_current_iteration(u + 2);
                                 job.add_history()->set_iteration(u + 1);
                               }),
                  IsOk());
    }
  }
}

std::string Read(const std::string& path) {
  absl::StatusOr<std::string> bytes = common::ReadFile(path);
  EXPECT_THAT(bytes, IsOk());
  return bytes.ok() ? *bytes : "";
}

void Write(const std::string& path, const std::string& bytes) {
  ASSERT_THAT(common::WriteFileAtomically(path, bytes), IsOk());
}

TEST(JobStoreTest, ReplayAfterReopenEqualsTheStateBefore) {
  const std::string directory = FreshDirectory();
  std::vector<v1::Job> before;
  {
    NETADAPT_ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(directory));
    Populate(*store, 3, 4);
    before = AllJobs(*store);
    // Memory only: not on disk, not expected after the restart.
    ASSERT_THAT(store->Update("jobs/2", [](v1::Job& j) { j.set_current_iteration(99); },
                              /*persist=*/false),
                IsOk());
  }
  EXPECT_TRUE(std::filesystem::exists(directory + "/journal.log"));
  EXPECT_FALSE(std::filesystem::exists(directory + "/jobs"));
  NETADAPT_ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(directory));
  EXPECT_THAT(store->damage(), IsOk());
  ExpectSameJobs(AllJobs(*store), before);
}

TEST(JobStoreTest, CompactionKeepsTheStateAcrossReopen) {
  const std::string directory = FreshDirectory();
  JobStoreOptions options;
  options.compact_journal_bytes = 2000;
  std::vector<v1::Job> before;
  {
    NETADAPT_ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(directory, options));
    Populate(*store, 4, 10);
    before = AllJobs(*store);
  }
  ASSERT_TRUE(std::filesystem::exists(directory + "/snapshot.pb"));
  EXPECT_LT(std::filesystem::file_size(directory + "/journal.log"), 2000u + 2000u);
  NETADAPT_ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(directory, options));
  EXPECT_THAT(store->damage(), IsOk());
  ExpectSameJobs(AllJobs(*store), before);
  bool created = false;
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job next, store->Create(Spec("after"), &created));
  EXPECT_EQ(next.name(), "jobs/5");
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job retry, store->Create(Spec("populate-0"), &created));
  EXPECT_FALSE(created);  // request ids survive compaction
}

// The master dies after the new snapshot is durable but before the journal is emptied: the
// old journal's records are all at or below the snapshot's sequence and are skipped.
TEST(JobStoreTest, CrashBetweenSnapshotAndJournalResetReplaysCorrectly) {
  const std::string directory = FreshDirectory();
  std::vector<v1::Job> before;
  {
    NETADAPT_ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(directory));
    Populate(*store, 2, 3);
    before = AllJobs(*store);
  }
  const std::string old_journal = Read(directory + "/journal.log");
  ASSERT_FALSE(old_journal.empty());
  {
    // Opening over the threshold compacts: snapshot written, journal emptied.
    JobStoreOptions compact;
    compact.compact_journal_bytes = 1;
    NETADAPT_ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(directory, compact));
  }
  ASSERT_TRUE(std::filesystem::exists(directory + "/snapshot.pb"));
  ASSERT_EQ(std::filesystem::file_size(directory + "/journal.log"), 0u);
  Write(directory + "/journal.log", old_journal);  // as if the reset never happened

  NETADAPT_ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(directory));
  EXPECT_THAT(store->damage(), IsOk());
  ExpectSameJobs(AllJobs(*store), before);
  // Later changes go after the skipped records and replay too.
  ASSERT_THAT(store->Update("jobs/1", [](v1::Job& j) { j.set_state(v1::Job::SUCCEEDED); }),
              IsOk());
  before = AllJobs(*store);
  store.reset();
  NETADAPT_ASSERT_OK_AND_ASSIGN(store, JobStore::Open(directory));
  EXPECT_THAT(store->damage(), IsOk());
  ExpectSameJobs(AllJobs(*store), before);
}

TEST(JobStoreTest, TornJournalTailIsDroppedAndAppendsContinue) {
  const std::string directory = FreshDirectory();
  std::vector<v1::Job> before;
  {
    NETADAPT_ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(directory));
    Populate(*store, 2, 2);
    before = AllJobs(*store);
  }
  const std::string journal = Read(directory + "/journal.log");
  // Half of a further record: the master died mid-append.
  const std::string record = common::EncodeJournalRecord(std::string(100, 'z'));
  Write(directory + "/journal.log", journal + record.substr(0, record.size() / 2));
  {
    NETADAPT_ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(directory));
    EXPECT_THAT(store->damage(), IsOk());
    ExpectSameJobs(AllJobs(*store), before);
    ASSERT_THAT(store->Update("jobs/2", [](v1::Job& j) { j.set_state(v1::Job::FAILED); }),
                IsOk());
    before = AllJobs(*store);
  }
  NETADAPT_ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(directory));
  EXPECT_THAT(store->damage(), IsOk());
  ExpectSameJobs(AllJobs(*store), before);
}

TEST(JobStoreTest, CorruptJournalOpensDamagedAndReadOnly) {
  const std::string directory = FreshDirectory();
  {
    NETADAPT_ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(directory));
    Populate(*store, 3, 2);
  }
  const std::string path = directory + "/journal.log";
  NETADAPT_ASSERT_OK_AND_ASSIGN(common::JournalContents contents, common::ReadJournal(path));
  ASSERT_GE(contents.records.size(), 5u);
  // Records 1-3 create the jobs; damage the fifth (jobs/2's first update).
  const int64_t offset = contents.offsets[4];
  std::string bytes = Read(path);
  bytes[static_cast<size_t>(offset) + 20] ^= 0x40;
  Write(path, bytes);

  NETADAPT_ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(directory));
  const std::string where = absl::StrCat("offset ", offset);
  EXPECT_THAT(store->damage(), StatusIs(absl::StatusCode::kDataLoss,
                                        AllOf(HasSubstr(path), HasSubstr(where))));
  // What came before the damage is served.
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job first, store->Get("jobs/1"));
  EXPECT_EQ(first.history_size(), 1);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job second, store->Get("jobs/2"));
  EXPECT_EQ(second.history_size(), 0);
  int total = 0;
  store->List(0, 10, &total);
  EXPECT_EQ(total, 3);
  // Nothing is written over it.
  EXPECT_THAT(store->Update("jobs/1", [](v1::Job& j) { j.set_state(v1::Job::FAILED); }),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr(path), HasSubstr(where), HasSubstr("RELIABILITY"))));
  EXPECT_THAT(store->Update("jobs/1", [](v1::Job&) {}, /*persist=*/false),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  bool created = false;
  EXPECT_THAT(store->Create(Spec("new"), &created),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(where)));
  EXPECT_EQ(Read(path), bytes);
}

TEST(JobStoreTest, UnparsableSnapshotOpensDamaged) {
  const std::string directory = FreshDirectory();
  JobStoreOptions options;
  options.compact_journal_bytes = 1;  // every change writes a snapshot
  {
    NETADAPT_ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(directory, options));
    Populate(*store, 2, 1);
  }
  const std::string path = directory + "/snapshot.pb";
  std::string bytes = Read(path);
  bytes[bytes.size() / 2] ^= 0x01;
  Write(path, bytes);
  NETADAPT_ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(directory, options));
  EXPECT_THAT(store->damage(), StatusIs(absl::StatusCode::kDataLoss, HasSubstr(path)));
  bool created = false;
  EXPECT_THAT(store->Create(Spec("new"), &created),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(path)));
}

// The journal continues a snapshot that is gone: its jobs would silently vanish.
TEST(JobStoreTest, JournalWithoutItsSnapshotOpensDamaged) {
  const std::string directory = FreshDirectory();
  {
    NETADAPT_ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(directory));
    Populate(*store, 2, 1);
  }
  {
    // Compacts at open: a snapshot at sequence 4, an empty journal.
    JobStoreOptions compact;
    compact.compact_journal_bytes = 1;
    NETADAPT_ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(directory, compact));
  }
  {
    NETADAPT_ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(directory));
    ASSERT_THAT(store->Update("jobs/1", [](v1::Job& j) { j.set_state(v1::Job::FAILED); }),
                IsOk());
  }
  std::filesystem::remove(directory + "/snapshot.pb");
  NETADAPT_ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(directory));
  EXPECT_THAT(store->damage(), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("missing")));
}

TEST(JobStoreTest, ImportsLegacyJobFiles) {
  const std::string directory = FreshDirectory();
  std::filesystem::create_directories(directory + "/jobs");
  v1::Job old_done = Spec("legacy-1");
  old_done.set_name("jobs/1");
  old_done.set_state(v1::Job::SUCCEEDED);
  old_done.add_history()->set_iteration(1);
  v1::Job old_running = Spec("legacy-2");
  old_running.set_name("jobs/2");
  old_running.set_state(v1::Job::RUNNING);
  old_running.set_current_iteration(4);
  Write(directory + "/jobs/1.pb", old_done.SerializeAsString());
  Write(directory + "/jobs/2.pb", old_running.SerializeAsString());
  {
    NETADAPT_ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(directory));
    EXPECT_THAT(store->damage(), IsOk());
    ExpectSameJobs(AllJobs(*store), {old_done, old_running});
    bool created = false;
    NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job third, store->Create(Spec("new"), &created));
    EXPECT_EQ(third.name(), "jobs/3");
  }
  // Imported into a snapshot; the old files are kept aside and never read again.
  EXPECT_TRUE(std::filesystem::exists(directory + "/snapshot.pb"));
  EXPECT_FALSE(std::filesystem::exists(directory + "/jobs"));
  EXPECT_TRUE(std::filesystem::exists(directory + "/jobs.imported/1.pb"));
  NETADAPT_ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(directory));
  EXPECT_THAT(store->damage(), IsOk());
  int total = 0;
  store->List(0, 10, &total);
  EXPECT_EQ(total, 3);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job running, store->Get("jobs/2"));
  EXPECT_EQ(running.current_iteration(), 4);
}

TEST(JobStoreTest, UnparsableLegacyFileOpensDamaged) {
  const std::string directory = FreshDirectory();
  std::filesystem::create_directories(directory + "/jobs");
  Write(directory + "/jobs/1.pb", "\xff\xff not a job");
  NETADAPT_ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(directory));
  EXPECT_THAT(store->damage(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr(directory + "/jobs/1.pb")));
  EXPECT_TRUE(std::filesystem::exists(directory + "/jobs/1.pb"));  // left for the operator
}

// A full disk: the journal's writes fail with ENOSPC (/dev/full answers every write so).
// Nothing changes in memory or on disk, and the same change succeeds once space is back.
TEST(JobStoreTest, DiskFullFailsTheChangeAndARetryAfterwardsSucceeds) {
  if (!std::filesystem::exists("/dev/full")) {
    GTEST_SKIP() << "no /dev/full on this system";  // Linux always has it; CI runs Linux
  }
  const std::string directory = FreshDirectory();
  NETADAPT_ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(directory));
  Populate(*store, 1, 1);
  const std::vector<v1::Job> before = AllJobs(*store);
  std::vector<v1::Job::State> seen;
  NETADAPT_ASSERT_OK_AND_ASSIGN(
      int64_t id, store->Subscribe("jobs/1", [&](const v1::Job& j) { seen.push_back(j.state()); }));

  NETADAPT_ASSERT_OK_AND_ASSIGN(auto full, common::JournalWriter::Open("/dev/full", 0));
  auto real = JobStoreTestPeer::SwapJournal(*store, std::move(full));
  const auto finish = [](v1::Job& j) { j.set_state(v1::Job::SUCCEEDED); };
  EXPECT_THAT(store->Update("jobs/1", finish),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       AllOf(HasSubstr("/dev/full"), HasSubstr("no space left on device"))));
  bool created = false;
  EXPECT_THAT(store->Create(Spec("while-full"), &created),
              StatusIs(absl::StatusCode::kResourceExhausted));
  ExpectSameJobs(AllJobs(*store), before);
  EXPECT_EQ(seen.size(), 1u);  // only the subscription's first call

  // Space is back.
  JobStoreTestPeer::SwapJournal(*store, std::move(real));
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job done, store->Update("jobs/1", finish));
  EXPECT_EQ(done.state(), v1::Job::SUCCEEDED);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job second, store->Create(Spec("after"), &created));
  EXPECT_EQ(second.name(), "jobs/2");
  store->Unsubscribe(id);
  const std::vector<v1::Job> after = AllJobs(*store);
  store.reset();
  NETADAPT_ASSERT_OK_AND_ASSIGN(store, JobStore::Open(directory));
  EXPECT_THAT(store->damage(), IsOk());
  ExpectSameJobs(AllJobs(*store), after);
}

// A snapshot that cannot be written (ENOSPC through a temporary file that is /dev/full) does
// not fail the change, which is already durable in the journal; the next change compacts.
TEST(JobStoreTest, DiskFullWhileCompactingKeepsTheJournal) {
  if (!std::filesystem::exists("/dev/full")) {
    GTEST_SKIP() << "no /dev/full on this system";  // Linux always has it; CI runs Linux
  }
  const std::string directory = FreshDirectory();
  JobStoreOptions options;
  options.compact_journal_bytes = 1;
  NETADAPT_ASSERT_OK_AND_ASSIGN(auto store, JobStore::Open(directory, options));
  Populate(*store, 1, 1);
  std::filesystem::create_symlink("/dev/full", directory + "/snapshot.pb.tmp");
  ASSERT_THAT(store->Update("jobs/1", [](v1::Job& j) { j.set_state(v1::Job::SUCCEEDED); }),
              IsOk());
  EXPECT_GT(std::filesystem::file_size(directory + "/journal.log"), 0u);  // not compacted
  const std::vector<v1::Job> after = AllJobs(*store);
  store.reset();
  NETADAPT_ASSERT_OK_AND_ASSIGN(store, JobStore::Open(directory, options));
  EXPECT_THAT(store->damage(), IsOk());
  ExpectSameJobs(AllJobs(*store), after);
}

}  // namespace
}  // namespace netadapt::master
