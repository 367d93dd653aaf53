#include "common/image_folder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/image_codec.h"
#include "tests/testing/scratch_directory.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::common {
namespace {

using ::netadapt::testing::IsOk;
using ::netadapt::testing::ScratchDirectoryTest;
using ::netadapt::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A width x height picture whose every value is `value` (grey) or (value, 2 value, 3 value).
Image Flat(int width, int height, int channels, int value) {
  Image image;
  image.width = width;
  image.height = height;
  image.channels = channels;
  for (int i = 0; i < width * height; ++i) {
    for (int c = 0; c < channels; ++c) {
      image.pixels.push_back(static_cast<uint8_t>(std::min(255, value * (c + 1))));
    }
  }
  return image;
}

class ImageFolderTest : public ScratchDirectoryTest {
 protected:
  // Writes dir_/relative as a PNG (or a JPEG for a .jpg name).
  void WriteImage(const std::string& relative, const Image& image) {
    std::filesystem::create_directories((dir_ / relative).parent_path());
    absl::StatusOr<std::string> bytes =
        relative.size() > 4 && relative.substr(relative.size() - 4) == ".jpg"
            ? EncodeJpeg(image, 95)
            : EncodePng(image);
    ASSERT_THAT(bytes, IsOk());
    Write(relative, *bytes);
  }

  // train/ and val/ with classes b, a (written out of order) of 3 and 2 images.
  void WriteTwoClasses(int width = 8, int height = 6) {
    WriteImage("train/b/1.png", Flat(width, height, 3, 10));
    WriteImage("train/b/2.jpg", Flat(width, height, 3, 20));
    WriteImage("train/b/sub/3.PNG", Flat(width, height, 3, 30));
    WriteImage("train/a/x.png", Flat(width, height, 3, 40));
    WriteImage("train/a/y.png", Flat(width, height, 3, 50));
    WriteImage("val/a/1.png", Flat(width, height, 3, 60));
    WriteImage("val/b/1.png", Flat(width, height, 3, 70));
  }

  std::string Root() const { return dir_.string(); }
};

TEST_F(ImageFolderTest, ClassesSortedFilesSortedLabelsByClass) {
  WriteTwoClasses();
  Write("train/a/notes.txt", "not an image");
  std::filesystem::create_directories(dir_ / "train/.ipynb_checkpoints");
  Write("train/README", "a file next to the class folders");
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::unique_ptr<ImageFolder> folder, ImageFolder::Open(Root(), {}));
  EXPECT_THAT(folder->classes(), ElementsAre("a", "b"));
  const ImageFolderSplit& train = folder->train();
  ASSERT_EQ(train.size(), 5);
  std::vector<std::string> names;
  std::vector<int32_t> labels;
  for (const ImageFile& file : train.files()) {
    names.push_back(std::filesystem::path(file.path).lexically_relative(dir_).string());
    labels.push_back(file.label);
  }
  EXPECT_THAT(names, ElementsAre("train/a/x.png", "train/a/y.png", "train/b/1.png", "train/b/2.jpg",
                                 "train/b/sub/3.PNG"));
  EXPECT_THAT(labels, ElementsAre(0, 0, 1, 1, 1));
  EXPECT_EQ(folder->test().size(), 2);
  EXPECT_EQ(train.num_classes(), 2);
  // Neither resize nor crop: the images' own size.
  EXPECT_EQ(train.channels(), 3);
  EXPECT_EQ(train.height(), 6);
  EXPECT_EQ(train.width(), 8);
}

TEST_F(ImageFolderTest, UsesTestWhenThereIsNoVal) {
  WriteImage("train/a/1.png", Flat(4, 4, 1, 1));
  WriteImage("test/a/1.png", Flat(4, 4, 1, 1));
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::unique_ptr<ImageFolder> folder, ImageFolder::Open(Root(), {}));
  EXPECT_THAT(folder->test().name(), HasSubstr("test"));
}

TEST_F(ImageFolderTest, LayoutErrorsComeBeforeAnythingIsDecoded) {
  EXPECT_THAT(ImageFolder::Open((dir_ / "missing").string(), {}),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("missing")));
  std::filesystem::create_directories(dir_ / "train");
  EXPECT_THAT(ImageFolder::Open(Root(), {}), StatusIs(absl::StatusCode::kInvalidArgument,
                                                      HasSubstr("val/ and test/ are missing")));
  std::filesystem::create_directories(dir_ / "val");
  EXPECT_THAT(ImageFolder::Open(Root(), {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no class folders")));
  WriteImage("train/cat/1.png", Flat(4, 4, 3, 1));
  std::filesystem::create_directories(dir_ / "train/dog");
  Write("train/dog/readme.txt", "no images here");
  WriteImage("val/cat/1.png", Flat(4, 4, 3, 1));
  WriteImage("val/dog/1.png", Flat(4, 4, 3, 1));
  EXPECT_THAT(ImageFolder::Open(Root(), {}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("train"), HasSubstr("dog"), HasSubstr("no .jpg"))));
  WriteImage("train/dog/1.png", Flat(4, 4, 3, 1));
  WriteImage("val/eel/1.png", Flat(4, 4, 3, 1));
  WriteImage("train/fox/1.png", Flat(4, 4, 3, 1));
  EXPECT_THAT(ImageFolder::Open(Root(), {}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("different classes"), HasSubstr("only in train/: fox"),
                             HasSubstr("only in val/: eel"))));
  WriteImage("val/fox/1.png", Flat(4, 4, 3, 1));
  WriteImage("train/eel/1.png", Flat(4, 4, 3, 1));
  ImageFolderOptions options;
  options.classes = 3;
  EXPECT_THAT(ImageFolder::Open(Root(), options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("classes=3")));
  options.classes = 4;
  EXPECT_THAT(ImageFolder::Open(Root(), options), IsOk());
}

TEST_F(ImageFolderTest, LoadsAtTheImagesOwnSizeNormalised) {
  WriteTwoClasses();
  ImageFolderOptions options;
  options.mean = {0.0f};
  options.std = {1.0f};
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::unique_ptr<ImageFolder> folder,
                                ImageFolder::Open(Root(), options));
  std::vector<float> out(3 * 6 * 8);
  // train/a/y.png: (50, 100, 150) everywhere.
  NETADAPT_ASSERT_OK_AND_ASSIGN(const int32_t label,
                                folder->train().Load(1, /*augment=*/false, 0, absl::MakeSpan(out)));
  EXPECT_EQ(label, 0);
  EXPECT_FLOAT_EQ(out[0], 50 / 255.0f);
  EXPECT_FLOAT_EQ(out[48 + 5], 100 / 255.0f);
  EXPECT_FLOAT_EQ(out[96 + 47], 150 / 255.0f);
  // Augmented (RandomResizedCrop + flip of a flat picture): still flat.
  NETADAPT_ASSERT_OK_AND_ASSIGN(const int32_t augmented_label,
                                folder->train().Load(1, /*augment=*/true, 9, absl::MakeSpan(out)));
  EXPECT_EQ(augmented_label, 0);
  for (int i = 0; i < 48; ++i) EXPECT_NEAR(out[i], 50 / 255.0f, 1e-5);
  EXPECT_THAT(folder->train().Load(5, false, 0, absl::MakeSpan(out)),
              StatusIs(absl::StatusCode::kOutOfRange));
}

TEST_F(ImageFolderTest, DefaultNormalisationIsImageNets) {
  WriteImage("train/a/1.png", Flat(4, 4, 3, 0));
  WriteImage("val/a/1.png", Flat(4, 4, 3, 0));
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::unique_ptr<ImageFolder> folder, ImageFolder::Open(Root(), {}));
  std::vector<float> out(3 * 16);
  ASSERT_THAT(folder->train().Load(0, false, 0, absl::MakeSpan(out)), IsOk());
  EXPECT_FLOAT_EQ(out[0], -0.485f / 0.229f);
  EXPECT_FLOAT_EQ(out[16], -0.456f / 0.224f);
  EXPECT_FLOAT_EQ(out[32], -0.406f / 0.225f);
  // One channel: the averages, 0.449 and 0.226.
  ImageFolderOptions grey;
  grey.channels = 1;
  NETADAPT_ASSERT_OK_AND_ASSIGN(folder, ImageFolder::Open(Root(), grey));
  std::vector<float> one(16);
  ASSERT_THAT(folder->train().Load(0, false, 0, absl::MakeSpan(one)), IsOk());
  EXPECT_FLOAT_EQ(one[0], -0.449f / 0.226f);
}

TEST_F(ImageFolderTest, ResizeAndCropGiveTheOutputSize) {
  WriteImage("train/a/1.jpg", Flat(50, 30, 3, 40));
  WriteImage("train/a/2.png", Flat(20, 40, 3, 40));
  WriteImage("val/a/1.png", Flat(33, 33, 3, 40));
  ImageFolderOptions options;
  options.crop = 16;
  options.resize = 18;
  options.mean = {0.0f};
  options.std = {1.0f};
  options.channels = 1;
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::unique_ptr<ImageFolder> folder,
                                ImageFolder::Open(Root(), options));
  EXPECT_EQ(folder->train().height(), 16);
  EXPECT_EQ(folder->train().width(), 16);
  EXPECT_EQ(folder->train().channels(), 1);
  std::vector<float> out(16 * 16);
  for (int64_t i = 0; i < 2; ++i) {
    for (const bool augment : {false, true}) {
      ASSERT_THAT(folder->train().Load(i, augment, 4, absl::MakeSpan(out)), IsOk());
      // Luma of (40, 80, 120): 0.299 * 40 + 0.587 * 80 + 0.114 * 120 = 72.6.
      for (const float v : out) EXPECT_NEAR(v * 255, 72.6, 1.5);
    }
  }
  ASSERT_THAT(folder->test().Load(0, false, 0, absl::MakeSpan(out)), IsOk());
}

TEST_F(ImageFolderTest, ImagesOfAnotherSizeFailWithoutResize) {
  WriteImage("train/a/1.png", Flat(8, 8, 3, 1));
  WriteImage("train/a/2.png", Flat(9, 8, 3, 1));
  WriteImage("val/a/1.png", Flat(8, 8, 3, 1));
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::unique_ptr<ImageFolder> folder, ImageFolder::Open(Root(), {}));
  std::vector<float> out(3 * 64);
  EXPECT_THAT(folder->train().Load(1, false, 0, absl::MakeSpan(out)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("2.png"), HasSubstr("9x8"), HasSubstr("resize="))));
}

TEST_F(ImageFolderTest, AugmentationDependsOnTheSeedOnly) {
  Image picture = Flat(40, 30, 3, 0);
  for (int y = 0; y < 30; ++y) {
    for (int x = 0; x < 40; ++x) picture.Pixel(x, y)[0] = static_cast<uint8_t>(6 * x + y);
  }
  WriteImage("train/a/1.png", picture);
  WriteImage("val/a/1.png", picture);
  ImageFolderOptions options;
  options.crop = 12;
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::unique_ptr<ImageFolder> folder,
                                ImageFolder::Open(Root(), options));
  std::vector<float> a(3 * 144), b(3 * 144), c(3 * 144), eval1(3 * 144), eval2(3 * 144);
  ASSERT_THAT(folder->train().Load(0, true, 77, absl::MakeSpan(a)), IsOk());
  ASSERT_THAT(folder->train().Load(0, true, 77, absl::MakeSpan(b)), IsOk());
  ASSERT_THAT(folder->train().Load(0, true, 78, absl::MakeSpan(c)), IsOk());
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  ASSERT_THAT(folder->train().Load(0, false, 1, absl::MakeSpan(eval1)), IsOk());
  ASSERT_THAT(folder->train().Load(0, false, 2, absl::MakeSpan(eval2)), IsOk());
  EXPECT_EQ(eval1, eval2);  // No augmentation: the seed is unused.
}

TEST_F(ImageFolderTest, CorruptImageFailsNamingTheFileUnlessSkipped) {
  WriteTwoClasses();
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string good, EncodeJpeg(Flat(8, 6, 3, 20), 95));
  const std::string broken = Write("train/b/2.jpg", good.substr(0, good.size() / 2));
  Write("train/a/y.png", "this is no PNG");
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::unique_ptr<ImageFolder> folder, ImageFolder::Open(Root(), {}));
  std::vector<float> out(3 * 48);
  EXPECT_THAT(folder->train().Load(3, false, 0, absl::MakeSpan(out)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(broken)));
  EXPECT_THAT(folder->train().Load(1, true, 0, absl::MakeSpan(out)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("y.png"), HasSubstr("not a JPEG or PNG"))));
  EXPECT_EQ(folder->skipped_files(), 0);

  ImageFolderOptions skip;
  skip.skip_corrupt = true;
  NETADAPT_ASSERT_OK_AND_ASSIGN(folder, ImageFolder::Open(Root(), skip));
  for (int round = 0; round < 2; ++round) {
    out.assign(out.size(), 5.0f);
    NETADAPT_ASSERT_OK_AND_ASSIGN(const int32_t label,
                                  folder->train().Load(3, true, round, absl::MakeSpan(out)));
    EXPECT_EQ(label, kSkippedLabel);
    for (const float v : out) ASSERT_EQ(v, 0.0f);
    NETADAPT_ASSERT_OK_AND_ASSIGN(const int32_t other,
                                  folder->train().Load(1, false, 0, absl::MakeSpan(out)));
    EXPECT_EQ(other, kSkippedLabel);
  }
  // Counted once per file, however often it comes up.
  EXPECT_EQ(folder->skipped_files(), 2);
  EXPECT_THAT(folder->skipped_paths(), ElementsAre(HasSubstr("train/a/y.png"), broken));
  // Good images still load.
  NETADAPT_ASSERT_OK_AND_ASSIGN(const int32_t label,
                                folder->train().Load(0, false, 0, absl::MakeSpan(out)));
  EXPECT_EQ(label, 0);
}

TEST_F(ImageFolderTest, FirstImageUnreadableForTheSizeIsAClearError) {
  std::filesystem::create_directories(dir_ / "train/a");
  Write("train/a/1.png", "garbage");
  WriteImage("val/a/1.png", Flat(4, 4, 3, 1));
  EXPECT_THAT(ImageFolder::Open(Root(), {}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("1.png"), HasSubstr("resize="))));
}

TEST_F(ImageFolderTest, MaxTrainKeepsARandomSubsetInFolderOrder) {
  for (int c = 0; c < 4; ++c) {
    for (int i = 0; i < 10; ++i)
      WriteImage(absl::StrCat("train/c", c, "/", i, ".png"), Flat(2, 2, 1, i));
    WriteImage(absl::StrCat("val/c", c, "/0.png"), Flat(2, 2, 1, 0));
  }
  DatasetLimits limits;
  limits.max_train = 12;
  limits.max_test = 2;
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::unique_ptr<ImageFolder> a,
                                ImageFolder::Open(Root(), {}, limits));
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::unique_ptr<ImageFolder> b,
                                ImageFolder::Open(Root(), {}, limits));
  ASSERT_EQ(a->train().size(), 12);
  EXPECT_EQ(a->test().size(), 2);
  std::vector<int> per_class(4, 0);
  for (size_t i = 0; i < a->train().files().size(); ++i) {
    EXPECT_EQ(a->train().files()[i].path, b->train().files()[i].path);
    if (i > 0) {
      EXPECT_LT(a->train().files()[i - 1].path, a->train().files()[i].path);
    }
    ++per_class[a->train().files()[i].label];
  }
  // Not the first 12 (three classes only): drawn across the classes.
  int classes_present = 0;
  for (const int n : per_class) classes_present += n > 0;
  EXPECT_GE(classes_present, 3);
  EXPECT_LT(per_class[0], 10);
}

}  // namespace
}  // namespace netadapt::common
