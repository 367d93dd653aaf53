#include "common/cifar_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

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
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int kRecordBytes = 3073;

// `count` records; record i has label (first_label + i) % 10 and pixel p = (i + p) % 251.
std::string CifarRecords(int count, int first_label) {
  std::string out;
  for (int i = 0; i < count; ++i) {
    out.push_back(static_cast<char>((first_label + i) % 10));
    for (int p = 0; p < 3072; ++p) out.push_back(static_cast<char>((i + p) % 251));
  }
  return out;
}

class CifarReaderTest : public ScratchDirectoryTest {
 protected:

  // Batch b holds b records with labels starting at b; the test batch 2 records from 7.
  void WriteCifarLayout() {
    for (int b = 1; b <= 5; ++b) {
      Write(absl::StrCat("data_batch_", b, ".bin"), CifarRecords(b, b));
    }
    Write("test_batch.bin", CifarRecords(2, 7));
  }

};

TEST_F(CifarReaderTest, LoadsAllBatchesInOrder) {
  WriteCifarLayout();
  NETADAPT_ASSERT_OK_AND_ASSIGN(DatasetSplits splits, LoadCifar10(dir_.string()));
  const ImageDataset& train = splits.train;
  EXPECT_EQ(train.name, "cifar10/train");
  EXPECT_EQ(train.channels, 3);
  EXPECT_EQ(train.height, 32);
  EXPECT_EQ(train.width, 32);
  EXPECT_EQ(train.num_classes, 10);
  ASSERT_EQ(train.size(), 1 + 2 + 3 + 4 + 5);
  EXPECT_THAT(train.labels, ElementsAre(1, 2, 3, 3, 4, 5, 4, 5, 6, 7, 5, 6, 7, 8, 9));
  // Image 2 is record 1 of batch 2: pixels (1 + p) % 251, CHW as in the file.
  EXPECT_EQ(train.Image(2)[0], 1);
  EXPECT_EQ(train.Image(2)[1024], (1 + 1024) % 251);
  EXPECT_EQ(train.Image(2)[3071], (1 + 3071) % 251);
  EXPECT_THAT(ValidateDataset(train), IsOk());
  EXPECT_EQ(splits.test.name, "cifar10/test");
  EXPECT_THAT(splits.test.labels, ElementsAre(7, 8));
  EXPECT_THAT(ValidateDataset(splits.test), IsOk());
}

TEST_F(CifarReaderTest, LimitReadsOnlyTheFilesNeeded) {
  WriteCifarLayout();
  // Batches 1 and 2 hold 3 images; batch 3 is never read, so its damage goes unnoticed.
  Write("data_batch_3.bin", "broken");
  std::filesystem::remove(dir_ / "data_batch_4.bin");
  NETADAPT_ASSERT_OK_AND_ASSIGN(DatasetSplits splits,
                                LoadCifar10(dir_.string(), {/*max_train=*/2, /*max_test=*/1}));
  EXPECT_THAT(splits.train.labels, ElementsAre(1, 2));
  EXPECT_EQ(splits.train.pixels.size(), 2u * 3072);
  EXPECT_THAT(splits.test.labels, ElementsAre(7));
}

TEST_F(CifarReaderTest, MissingDirectory) {
  const std::string dir = (dir_ / "absent").string();
  EXPECT_THAT(LoadCifar10(dir),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr(absl::StrCat("cifar10 directory ", dir, " does not exist"))));
}

TEST_F(CifarReaderTest, MissingFile) {
  WriteCifarLayout();
  std::filesystem::remove(dir_ / "test_batch.bin");
  EXPECT_THAT(LoadCifar10(dir_.string()),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("test_batch.bin")));
}

TEST_F(CifarReaderTest, WrongRecordSize) {
  WriteCifarLayout();
  const std::string path = Write("data_batch_2.bin", CifarRecords(2, 0) + "x");
  EXPECT_THAT(LoadCifar10(dir_.string()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(absl::StrCat(path, ": wrong size: ", 2 * kRecordBytes + 1,
                                              " bytes is not a positive multiple of the "
                                              "3073-byte CIFAR-10 record"))));
}

TEST_F(CifarReaderTest, EmptyFileIsWrongSize) {
  WriteCifarLayout();
  Write("test_batch.bin", "");
  EXPECT_THAT(LoadCifar10(dir_.string()), StatusIs(absl::StatusCode::kInvalidArgument,
                                                   HasSubstr("test_batch.bin: wrong size")));
}

TEST_F(CifarReaderTest, LabelOutOfRange) {
  WriteCifarLayout();
  std::string records = CifarRecords(3, 0);
  records[2 * kRecordBytes] = 10;
  const std::string path = Write("data_batch_5.bin", records);
  EXPECT_THAT(LoadCifar10(dir_.string()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(absl::StrCat(path, ": label 10 of record 2 is outside [0, 10)"))));
}

}  // namespace
}  // namespace netadapt::common
