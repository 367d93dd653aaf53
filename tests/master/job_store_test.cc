#include "master/job_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "common/file_util.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::master {
namespace {

using ::netadapt::testing::StatusIs;
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

}  // namespace
}  // namespace netadapt::master
