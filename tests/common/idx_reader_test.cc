#include "common/idx_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

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

void AppendBigEndian(uint32_t value, std::string* out) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(value >> shift));
}

// An IDX3 file of `count` images of rows x cols whose pixel p of image i is (7i + p) % 256.
std::string IdxImagesFile(uint32_t count, uint32_t rows, uint32_t cols) {
  std::string out;
  AppendBigEndian(0x00000803, &out);
  AppendBigEndian(count, &out);
  AppendBigEndian(rows, &out);
  AppendBigEndian(cols, &out);
  for (uint32_t i = 0; i < count; ++i) {
    for (uint32_t p = 0; p < rows * cols; ++p) out.push_back(static_cast<char>((7 * i + p) % 256));
  }
  return out;
}

std::string IdxLabelsFile(const std::vector<uint8_t>& labels) {
  std::string out;
  AppendBigEndian(0x00000801, &out);
  AppendBigEndian(static_cast<uint32_t>(labels.size()), &out);
  for (const uint8_t label : labels) out.push_back(static_cast<char>(label));
  return out;
}


class IdxReaderTest : public ScratchDirectoryTest {
 protected:

  // A complete MNIST-layout directory: 5 train and 3 test images of 4x3.
  void WriteMnistLayout(bool gzip) {
    auto write = [&](const std::string& name, const std::string& content) {
      if (gzip) {
        Write(name + ".gz", Gzip(content));
      } else {
        Write(name, content);
      }
    };
    write("train-images-idx3-ubyte", IdxImagesFile(5, 4, 3));
    write("train-labels-idx1-ubyte", IdxLabelsFile({0, 1, 2, 9, 4}));
    write("t10k-images-idx3-ubyte", IdxImagesFile(3, 4, 3));
    write("t10k-labels-idx1-ubyte", IdxLabelsFile({7, 8, 9}));
  }

};

TEST_F(IdxReaderTest, ParsesImagesRowMajor) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(IdxImages images, ParseIdxImages(IdxImagesFile(2, 2, 3), "x"));
  EXPECT_EQ(images.count, 2);
  EXPECT_EQ(images.height, 2);
  EXPECT_EQ(images.width, 3);
  EXPECT_THAT(images.pixels, ElementsAre(0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12));
}

TEST_F(IdxReaderTest, ParseKeepsFirstImagesAndLabels) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(IdxImages images, ParseIdxImages(IdxImagesFile(3, 1, 2), "x", 2));
  EXPECT_EQ(images.count, 3);
  EXPECT_THAT(images.pixels, ElementsAre(0, 1, 7, 8));
  NETADAPT_ASSERT_OK_AND_ASSIGN(IdxLabels labels, ParseIdxLabels(IdxLabelsFile({5, 6, 7}), "y", 1));
  EXPECT_EQ(labels.count, 3);
  EXPECT_THAT(labels.labels, ElementsAre(5));
}

TEST_F(IdxReaderTest, LoadsPlainDirectory) {
  WriteMnistLayout(/*gzip=*/false);
  NETADAPT_ASSERT_OK_AND_ASSIGN(DatasetSplits splits, LoadIdxDirectory(dir_.string(), "mnist"));
  const ImageDataset& train = splits.train;
  EXPECT_EQ(train.name, "mnist/train");
  EXPECT_EQ(train.channels, 1);
  EXPECT_EQ(train.height, 4);
  EXPECT_EQ(train.width, 3);
  EXPECT_EQ(train.num_classes, 10);
  EXPECT_THAT(train.labels, ElementsAre(0, 1, 2, 9, 4));
  EXPECT_EQ(train.Image(1)[0], 7);
  EXPECT_EQ(train.Image(4)[11], (28 + 11) % 256);
  EXPECT_THAT(ValidateDataset(train), IsOk());
  EXPECT_EQ(splits.test.name, "mnist/test");
  EXPECT_THAT(splits.test.labels, ElementsAre(7, 8, 9));
  EXPECT_THAT(ValidateDataset(splits.test), IsOk());
}

TEST_F(IdxReaderTest, LoadsGzippedDirectoryWithLimits) {
  WriteMnistLayout(/*gzip=*/true);
  NETADAPT_ASSERT_OK_AND_ASSIGN(
      DatasetSplits splits,
      LoadIdxDirectory(dir_.string(), "fashion-mnist", {/*max_train=*/2, /*max_test=*/0}));
  EXPECT_THAT(splits.train.labels, ElementsAre(0, 1));
  EXPECT_EQ(splits.train.pixels.size(), 2u * 12);
  EXPECT_EQ(splits.train.Image(1)[2], 9);
  EXPECT_EQ(splits.test.size(), 3);
}

TEST_F(IdxReaderTest, MissingDirectory) {
  const std::string dir = (dir_ / "absent").string();
  EXPECT_THAT(LoadIdxDirectory(dir, "mnist"),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr(absl::StrCat("mnist directory ", dir, " does not exist"))));
}

TEST_F(IdxReaderTest, MissingFile) {
  WriteMnistLayout(/*gzip=*/false);
  std::filesystem::remove(dir_ / "t10k-labels-idx1-ubyte");
  EXPECT_THAT(LoadIdxDirectory(dir_.string(), "mnist"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("t10k-labels-idx1-ubyte")));
}

TEST_F(IdxReaderTest, BadMagicNumber) {
  const std::string labels = Write("labels", IdxLabelsFile({1}));
  // A label file given as the image file.
  EXPECT_THAT(ReadIdxDataset(labels, labels, 10, 0, "t"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(absl::StrCat(labels,
                                              ": bad magic number 0x00000801, expected "
                                              "0x00000803"))));
}

TEST_F(IdxReaderTest, TruncatedImages) {
  const std::string full = IdxImagesFile(4, 2, 2);
  const std::string images = Write("images", full.substr(0, full.size() - 1));
  const std::string labels = Write("labels", IdxLabelsFile({1, 2, 3, 4}));
  EXPECT_THAT(ReadIdxDataset(images, labels, 10, 0, "t"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(absl::StrCat(images,
                                              ": truncated: the header declares 4 "
                                              "images of 2x2 (32 bytes) but the file "
                                              "has 31 bytes"))));
  const std::string header_only = Write("header", full.substr(0, 10));
  EXPECT_THAT(ReadIdxDataset(header_only, labels, 10, 0, "t"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("shorter than the 16-byte IDX header")));
}

TEST_F(IdxReaderTest, TruncatedGzippedLabels) {
  const std::string images = Write("images", IdxImagesFile(3, 2, 2));
  const std::string full = IdxLabelsFile({1, 2, 3});
  const std::string labels = Write("labels.gz", Gzip(full.substr(0, full.size() - 2)));
  EXPECT_THAT(ReadIdxDataset(images, labels, 10, 0, "t"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(absl::StrCat(labels,
                                              ": truncated: the header declares 3 "
                                              "labels"))));
}

TEST_F(IdxReaderTest, TrailingBytesAreWrongSize) {
  const std::string images = Write("images", IdxImagesFile(2, 2, 2) + "zz");
  const std::string labels = Write("labels", IdxLabelsFile({1, 2}));
  EXPECT_THAT(ReadIdxDataset(images, labels, 10, 0, "t"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(absl::StrCat(images, ": wrong size: 26 bytes, expected 24"))));
}

TEST_F(IdxReaderTest, CountMismatch) {
  const std::string images = Write("images", IdxImagesFile(3, 2, 2));
  const std::string labels = Write("labels", IdxLabelsFile({1, 2}));
  // Also with a limit below both counts: the files still disagree.
  EXPECT_THAT(ReadIdxDataset(images, labels, 10, 1, "t"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(absl::StrCat("image/label count mismatch: ", images,
                                              " has 3 images but ", labels, " has 2 labels"))));
}

TEST_F(IdxReaderTest, LabelOutOfRange) {
  const std::string images = Write("images", IdxImagesFile(3, 2, 2));
  const std::string labels = Write("labels", IdxLabelsFile({1, 10, 2}));
  EXPECT_THAT(
      ReadIdxDataset(images, labels, 10, 0, "t"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr(absl::StrCat(labels, ": label 10 of image 1 is outside [0, 10)"))));
}

TEST_F(IdxReaderTest, ZeroImageSizeIsRejected) {
  EXPECT_THAT(ParseIdxImages(IdxImagesFile(0, 0, 5), "file"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("file: bad image size 0x5")));
}

}  // namespace
}  // namespace netadapt::common
