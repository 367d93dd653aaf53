#include "common/artifact_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "common/sha256.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::common {
namespace {

using ::netadapt::testing::IsOk;
using ::netadapt::testing::StatusIs;
using ::testing::HasSubstr;

class ArtifactStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = ::testing::TempDir() + "/artifact_store_" +
                 ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(directory_);
    auto store = ArtifactStore::Open(directory_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(store).value();
  }
  std::string directory_;
  std::unique_ptr<ArtifactStore> store_;
};

TEST_F(ArtifactStoreTest, PutGetRoundTripsByDigest) {
  const std::string content(3 * 1000 * 1000 + 7, 'x');
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string digest, store_->Put(content));
  EXPECT_EQ(digest, Sha256Hex(content));
  EXPECT_TRUE(store_->Contains(digest));
  NETADAPT_ASSERT_OK_AND_ASSIGN(int64_t size, store_->Size(digest));
  EXPECT_EQ(size, static_cast<int64_t>(content.size()));
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string back, store_->Get(digest));
  EXPECT_EQ(back, content);
  // Idempotent.
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string again, store_->Put(content));
  EXPECT_EQ(again, digest);
}

TEST_F(ArtifactStoreTest, ReadsChunksToTheEnd) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string digest, store_->Put("0123456789"));
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string a, store_->ReadChunk(digest, 0, 4));
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string b, store_->ReadChunk(digest, 8, 4));
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string end, store_->ReadChunk(digest, 10, 4));
  EXPECT_EQ(a, "0123");
  EXPECT_EQ(b, "89");
  EXPECT_EQ(end, "");
  EXPECT_THAT(store_->ReadChunk(digest, 11, 4).status(),
              StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("offset")));
}

TEST_F(ArtifactStoreTest, WriterVerifiesSizeAndDigest) {
  const std::string content = "streamed in pieces";
  const std::string digest = Sha256Hex(content);
  {
    NETADAPT_ASSERT_OK_AND_ASSIGN(auto writer, store_->NewWriter(digest, content.size()));
    ASSERT_THAT(writer->Append(content.substr(0, 5)), IsOk());
    ASSERT_THAT(writer->Append(content.substr(5)), IsOk());
    ASSERT_THAT(writer->Commit(), IsOk());
  }
  EXPECT_TRUE(store_->Contains(digest));

  const std::string other = "other content!!";
  const std::string other_digest = Sha256Hex(other);
  {
    NETADAPT_ASSERT_OK_AND_ASSIGN(auto writer, store_->NewWriter(other_digest, other.size()));
    ASSERT_THAT(writer->Append("tampered content"), StatusIs(absl::StatusCode::kFailedPrecondition));
  }
  {
    NETADAPT_ASSERT_OK_AND_ASSIGN(auto writer, store_->NewWriter(other_digest, other.size()));
    ASSERT_THAT(writer->Append("x" + other.substr(1)), IsOk());
    EXPECT_THAT(writer->Commit(), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("hash to")));
  }
  {
    NETADAPT_ASSERT_OK_AND_ASSIGN(auto writer, store_->NewWriter(other_digest, other.size()));
    ASSERT_THAT(writer->Append(other.substr(0, 3)), IsOk());
    EXPECT_THAT(writer->Commit(), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("received 3")));
  }
  {  // Abandoned: destroyed without Commit.
    NETADAPT_ASSERT_OK_AND_ASSIGN(auto writer, store_->NewWriter(other_digest, other.size()));
    ASSERT_THAT(writer->Append(other), IsOk());
  }
  EXPECT_FALSE(store_->Contains(other_digest));
  EXPECT_TRUE(std::filesystem::is_empty(directory_ + "/tmp"));
}

TEST_F(ArtifactStoreTest, DetectsDamageOnDisk) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string digest, store_->Put("precious bytes"));
  {
    std::fstream file(store_->PathOf(digest), std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(3);
    file.put('X');
  }
  EXPECT_THAT(store_->Get(digest).status(), StatusIs(absl::StatusCode::kDataLoss));
}

TEST_F(ArtifactStoreTest, BadDigestsAndMissingArtifacts) {
  EXPECT_THAT(store_->Get("abc").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a sha256")));
  EXPECT_THAT(store_->Get(std::string(64, 'A')).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->Get(std::string(64, 'a')).status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("not stored")));
  EXPECT_FALSE(store_->Contains("../etc/passwd"));
  EXPECT_THAT(store_->NewWriter(std::string(64, 'a'), -1).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("size")));
}

TEST_F(ArtifactStoreTest, ConcurrentPutsOfTheSameContent) {
  const std::string content(100000, 'z');
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] { EXPECT_THAT(store_->Put(content).status(), IsOk()); });
  }
  for (auto& t : threads) t.join();
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string back, store_->Get(Sha256Hex(content)));
  EXPECT_EQ(back, content);
}

}  // namespace
}  // namespace netadapt::common
