#include "common/dataset_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "tests/testing/scratch_directory.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::common {
namespace {

using ::netadapt::testing::Gzip;
using ::netadapt::testing::ScratchDirectoryTest;

using ::netadapt::testing::IsOk;
using ::netadapt::testing::StatusIs;
using ::testing::HasSubstr;


// Bytes that compress poorly, so truncating the gzip data loses some of them.
std::string Noise(size_t size) {
  std::string data(size, '\0');
  uint32_t state = 12345;
  for (char& c : data) {
    state = state * 1664525u + 1013904223u;
    c = static_cast<char>(state >> 24);
  }
  return data;
}

class DatasetFileTest : public ScratchDirectoryTest {
 protected:

};

TEST_F(DatasetFileTest, ReadsPlainFile) {
  const std::string path = Write("plain", "abc");
  NETADAPT_ASSERT_OK_AND_ASSIGN(DatasetFile file, ReadDatasetFile(path));
  EXPECT_EQ(file.path, path);
  EXPECT_EQ(file.content, "abc");
}

TEST_F(DatasetFileTest, InflatesGzipByMagicWhateverTheName) {
  const std::string data = Noise(200000);
  const std::string path = Write("no_suffix", Gzip(data));
  NETADAPT_ASSERT_OK_AND_ASSIGN(DatasetFile file, ReadDatasetFile(path));
  EXPECT_EQ(file.content, data);
}

TEST_F(DatasetFileTest, FallsBackToGzSuffix) {
  const std::string gz_path = Write("file.gz", Gzip("hello"));
  NETADAPT_ASSERT_OK_AND_ASSIGN(DatasetFile file, ReadDatasetFile((dir_ / "file").string()));
  EXPECT_EQ(file.path, gz_path);
  EXPECT_EQ(file.content, "hello");
}

TEST_F(DatasetFileTest, ReadsConcatenatedMembers) {
  const std::string path = Write("two.gz", Gzip("first,") + Gzip("second"));
  NETADAPT_ASSERT_OK_AND_ASSIGN(DatasetFile file, ReadDatasetFile(path));
  EXPECT_EQ(file.content, "first,second");
}

TEST_F(DatasetFileTest, EmptyGzipContent) {
  const std::string path = Write("empty.gz", Gzip(""));
  NETADAPT_ASSERT_OK_AND_ASSIGN(DatasetFile file, ReadDatasetFile(path));
  EXPECT_EQ(file.content, "");
}

TEST_F(DatasetFileTest, MissingFileIsNotFoundNamingBothPaths) {
  const std::string path = (dir_ / "missing").string();
  EXPECT_THAT(ReadDatasetFile(path),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr(absl::StrCat(path, " (or ", path, ".gz) does not exist"))));
}

TEST_F(DatasetFileTest, TruncatedGzipIsInvalidArgument) {
  const std::string gz = Gzip(Noise(100000));
  const std::string path = Write("cut.gz", gz.substr(0, gz.size() / 2));
  EXPECT_THAT(ReadDatasetFile(path),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(absl::StrCat(path, ": truncated gzip data"))));
}

TEST_F(DatasetFileTest, CorruptGzipIsInvalidArgument) {
  std::string gz = Gzip(Noise(1000));
  gz[gz.size() - 6] ^= 0x55;  // In the CRC32 of the trailer.
  const std::string path = Write("crc.gz", gz);
  EXPECT_THAT(ReadDatasetFile(path),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(absl::StrCat(path, ": corrupt gzip data"))));
}

TEST_F(DatasetFileTest, TrailingGarbageIsInvalidArgument) {
  const std::string path = Write("tail.gz", Gzip("data") + "xyz");
  EXPECT_THAT(ReadDatasetFile(path), StatusIs(absl::StatusCode::kInvalidArgument,
                                              HasSubstr("3 bytes after the gzip stream")));
}

TEST_F(DatasetFileTest, GzNameWithoutGzipDataIsInvalidArgument) {
  const std::string path = Write("fake.gz", "plain text");
  EXPECT_THAT(ReadDatasetFile(path),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("fake.gz: has a .gz name")));
}

TEST_F(DatasetFileTest, CheckDatasetDirectory) {
  EXPECT_THAT(CheckDatasetDirectory(dir_.string(), "mnist"), IsOk());
  const std::string missing = (dir_ / "nope").string();
  EXPECT_THAT(CheckDatasetDirectory(missing, "mnist"),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr(absl::StrCat("mnist directory ", missing, " does not exist"))));
  EXPECT_THAT(CheckDatasetDirectory(Write("file", "x"), "mnist"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is not a directory")));
}

}  // namespace
}  // namespace netadapt::common
