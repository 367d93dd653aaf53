#include "common/file_util.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::common {
namespace {

using ::netadapt::testing::IsOk;
using ::netadapt::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// A fresh directory per test: tests of this binary run as separate processes in parallel.
class FileUtilTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           absl::StrCat("file_util_test_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    ASSERT_TRUE(std::filesystem::create_directories(dir_));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Path(const std::string& file) const { return (dir_ / file).string(); }

  // The names of the files in the test's directory.
  std::vector<std::string> DirectoryEntries() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
      names.push_back(entry.path().filename().string());
    }
    return names;
  }

  std::filesystem::path dir_;
};

TEST_F(FileUtilTest, WriteThenReadRoundTrips) {
  const std::string path = Path("file.txt");
  ASSERT_THAT(WriteFileAtomically(path, "hello, world\n"), IsOk());
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string content, ReadFile(path));
  EXPECT_EQ(content, "hello, world\n");
  // The temporary file was renamed away.
  EXPECT_THAT(DirectoryEntries(), ElementsAre("file.txt"));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST_F(FileUtilTest, EmptyContentRoundTrips) {
  const std::string path = Path("empty");
  ASSERT_THAT(WriteFileAtomically(path, ""), IsOk());
  EXPECT_EQ(std::filesystem::file_size(path), 0u);
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string content, ReadFile(path));
  EXPECT_EQ(content, "");
}

// Every byte value, NUL included, comes back unchanged.
TEST_F(FileUtilTest, BinaryContentRoundTrips) {
  std::string binary;
  for (int round = 0; round < 3; ++round) {
    for (int byte = 0; byte < 256; ++byte) binary.push_back(static_cast<char>(byte));
  }
  binary += std::string(4, '\0');
  const std::string path = Path("binary.bin");
  ASSERT_THAT(WriteFileAtomically(path, binary), IsOk());
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string content, ReadFile(path));
  EXPECT_EQ(content.size(), binary.size());
  EXPECT_EQ(content, binary);
}

// Content larger than ReadFile's 64 KiB buffer is read in full.
TEST_F(FileUtilTest, LargeContentRoundTrips) {
  std::string large;
  for (int i = 0; large.size() < 300000; ++i) large += absl::StrCat(i, ",");
  const std::string path = Path("large.txt");
  ASSERT_THAT(WriteFileAtomically(path, large), IsOk());
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string content, ReadFile(path));
  EXPECT_EQ(content, large);
}

// A shorter new content replaces the old file entirely (no leftover tail).
TEST_F(FileUtilTest, ReplacesExistingFile) {
  const std::string path = Path("config.json");
  ASSERT_THAT(WriteFileAtomically(path, "the old, longer content"), IsOk());
  ASSERT_THAT(WriteFileAtomically(path, "new"), IsOk());
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string content, ReadFile(path));
  EXPECT_EQ(content, "new");
  EXPECT_THAT(DirectoryEntries(), ElementsAre("config.json"));
}

// A stale temporary file from an interrupted write does not get in the way.
TEST_F(FileUtilTest, OverwritesStaleTemporaryFile) {
  const std::string path = Path("state");
  ASSERT_THAT(WriteFileAtomically(path + ".tmp", "stale half-written data"), IsOk());
  ASSERT_THAT(WriteFileAtomically(path, "fresh"), IsOk());
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string content, ReadFile(path));
  EXPECT_EQ(content, "fresh");
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST_F(FileUtilTest, ReadMissingFileIsNotFound) {
  const std::string path = Path("missing.txt");
  EXPECT_THAT(ReadFile(path), StatusIs(absl::StatusCode::kNotFound, HasSubstr(path)));
}

TEST_F(FileUtilTest, ReadDirectoryFails) {
  EXPECT_THAT(ReadFile(dir_.string()), Not(IsOk()));
}

TEST_F(FileUtilTest, WriteIntoMissingDirectoryFailsNamingThePath) {
  const std::string path = Path("no/such/dir/file.txt");
  EXPECT_THAT(WriteFileAtomically(path, "content"), StatusIs(absl::StatusCode::kNotFound,
                                                              HasSubstr(path)));
  EXPECT_FALSE(std::filesystem::exists(Path("no")));
}

}  // namespace
}  // namespace netadapt::common
