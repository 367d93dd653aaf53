#include "common/image_folder.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <map>
#include <random>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/dataset_file.h"
#include "common/file_util.h"
#include "common/image_codec.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace netadapt::common {
namespace {

namespace fs = std::filesystem;

// Seeds of the max_train / max_test subsets: fixed, so every worker keeps the same images.
constexpr uint64_t kTrainSubsetSeed = 0x696d616765747261ULL;  // "imagetra"
constexpr uint64_t kTestSubsetSeed = 0x696d616765746573ULL;   // "imagetes"

bool IsImageName(const fs::path& path) {
  std::string extension = path.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return extension == ".jpg" || extension == ".jpeg" || extension == ".png";
}

bool IsDirectory(const fs::path& path) {
  std::error_code error;
  return fs::is_directory(path, error);  // Follows symlinks.
}

// Class folder name -> its image files, sorted by path.
using ClassFiles = std::map<std::string, std::vector<std::string>>;

absl::StatusOr<ClassFiles> ScanSplit(const fs::path& split) {
  ClassFiles classes;
  std::error_code error;
  fs::directory_iterator it(split, fs::directory_options::follow_directory_symlink, error);
  if (error) {
    return absl::InvalidArgumentError(
        absl::StrCat("imagefolder ", split.string(), ": cannot list it: ", error.message()));
  }
  for (; it != fs::directory_iterator(); it.increment(error)) {
    if (error) break;
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.' || !IsDirectory(it->path())) continue;
    classes[name];
  }
  if (error) {
    return absl::InvalidArgumentError(
        absl::StrCat("imagefolder ", split.string(), ": cannot list it: ", error.message()));
  }
  for (auto& [name, files] : classes) {
    const fs::path folder = split / name;
    fs::recursive_directory_iterator walk(folder, fs::directory_options::follow_directory_symlink,
                                          error);
    for (; !error && walk != fs::recursive_directory_iterator(); walk.increment(error)) {
      if (IsImageName(walk->path()) && !IsDirectory(walk->path())) {
        files.push_back(walk->path().string());
      }
    }
    if (error) {
      return absl::InvalidArgumentError(
          absl::StrCat("imagefolder ", folder.string(), ": cannot list it: ", error.message()));
    }
    std::sort(files.begin(), files.end());
  }
  return classes;
}

// The class folders of `split` that hold no image.
absl::Status CheckNoEmptyClass(const fs::path& split, const ClassFiles& classes) {
  if (classes.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "imagefolder ", split.string(),
        ": no class folders (expected one folder of .jpg, .jpeg or .png images per class)"));
  }
  std::vector<std::string> empty;
  for (const auto& [name, files] : classes) {
    if (files.empty()) empty.push_back(name);
  }
  if (!empty.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("imagefolder ", split.string(), ": class folder",
                     empty.size() > 1 ? "s " : " ", absl::StrJoin(empty, ", "), " hold",
                     empty.size() > 1 ? "" : "s", " no .jpg, .jpeg or .png image"));
  }
  return absl::OkStatus();
}

// Up to 10 names, then how many more.
std::string FewNames(const std::vector<std::string>& names) {
  if (names.size() <= 10) return absl::StrJoin(names, ", ");
  return absl::StrCat(absl::StrJoin(names.begin(), names.begin() + 10, ", "), " and ",
                      names.size() - 10, " more");
}

absl::Status CheckOptions(const ImageFolderOptions& options) {
  if (options.channels != 1 && options.channels != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("imagefolder: channels is ", options.channels, ", expected 1 or 3"));
  }
  if (options.resize < 0 || options.crop < 0) {
    return absl::InvalidArgumentError("imagefolder: resize and crop must be >= 0");
  }
  if (!(options.min_scale > 0 && options.min_scale <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("imagefolder: min_scale is ", options.min_scale, ", expected (0, 1]"));
  }
  for (const std::vector<float>* values : {&options.mean, &options.std}) {
    if (values->size() > 1 && values->size() != static_cast<size_t>(options.channels)) {
      return absl::InvalidArgumentError(
          absl::StrCat("imagefolder: mean and std take one value or one per channel (",
                       options.channels, "), got ", values->size()));
    }
  }
  return absl::OkStatus();
}

// `files` of a split reduced to `max` of them drawn with `seed` (all when max is 0).
absl::Status KeepRandomSubset(int64_t max, uint64_t seed, std::vector<ImageFile>* files) {
  const int64_t size = static_cast<int64_t>(files->size());
  if (max <= 0 || max >= size) return absl::OkStatus();
  NETADAPT_ASSIGN_OR_RETURN(const HeldOutSplit pick, SplitHeldOut(size, max, seed));
  std::vector<ImageFile> kept;
  kept.reserve(static_cast<size_t>(max));
  for (const int64_t index : pick.held_out_indices) kept.push_back((*files)[index]);
  *files = std::move(kept);
  return absl::OkStatus();
}

}  // namespace

int ImageFolderSplit::channels() const { return folder_->options_.channels; }
int ImageFolderSplit::height() const { return folder_->height_; }
int ImageFolderSplit::width() const { return folder_->width_; }
int ImageFolderSplit::num_classes() const { return static_cast<int>(folder_->classes_.size()); }

absl::StatusOr<int32_t> ImageFolderSplit::Load(int64_t index, bool augment, uint64_t seed,
                                               absl::Span<float> out) const {
  if (index < 0 || index >= size()) {
    return absl::OutOfRangeError(
        absl::StrCat(name_, ": image ", index, " is outside [0, ", size(), ")"));
  }
  const ImageFolder& folder = *folder_;
  const ImageFolderOptions& options = folder.options_;
  const ImageFile& file = files_[static_cast<size_t>(index)];
  auto skip = [&](const absl::Status& why) -> absl::StatusOr<int32_t> {
    if (!options.skip_corrupt) return why;
    folder.Skip(file.path, why);
    std::fill(out.begin(), out.end(), 0.0f);
    return kSkippedLabel;
  };
  if (options.skip_corrupt && folder.IsSkipped(file.path)) return skip(absl::OkStatus());

  NETADAPT_ASSIGN_OR_RETURN(const std::string bytes, ReadFile(file.path));
  absl::StatusOr<ImageHeader> header = ReadImageHeader(bytes, file.path);
  if (!header.ok()) return skip(header.status());
  const bool native = folder.resize_ == 0;
  if (native && (header->width != folder.width_ || header->height != folder.height_)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "image ", file.path, ": is ", header->width, "x", header->height, " but the images of ",
        folder.directory_, " were taken to be ", folder.width_, "x", folder.height_,
        " (the first training image's size); give resize= and crop= to resize them"));
  }

  std::mt19937_64 rng(seed);
  CropBox box;
  if (augment && options.random_resized_crop) {
    box = RandomResizedCropBox(header->width, header->height, options.min_scale, rng);
  } else if (native) {
    box = CropBox{0, 0, static_cast<double>(header->width), static_cast<double>(header->height)};
  } else {
    box = CenterCropBox(header->width, header->height, folder.resize_, folder.crop_);
  }
  const bool flip = augment && options.flip && (rng() >> 63) != 0;

  DecodeOptions decode;
  decode.channels = options.channels;
  const int x0 = std::clamp(static_cast<int>(std::floor(box.x)), 0, header->width - 1);
  const int y0 = std::clamp(static_cast<int>(std::floor(box.y)), 0, header->height - 1);
  const int x1 = std::clamp(static_cast<int>(std::ceil(box.x + box.width)), x0 + 1, header->width);
  const int y1 =
      std::clamp(static_cast<int>(std::ceil(box.y + box.height)), y0 + 1, header->height);
  decode.region_x = x0;
  decode.region_y = y0;
  decode.region_width = x1 - x0;
  decode.region_height = y1 - y0;
  decode.min_width = folder.width_;
  decode.min_height = folder.height_;
  absl::StatusOr<DecodedImage> decoded = DecodeImage(bytes, file.path, decode);
  if (!decoded.ok()) return skip(decoded.status());
  NETADAPT_RETURN_IF_ERROR(ResampleToTensor(*decoded, box, folder.width_, folder.height_, flip,
                                            folder.normalization_, out));
  return file.label;
}

ImageFolder::ImageFolder(std::string directory, const ImageFolderOptions& options)
    : directory_(std::move(directory)),
      options_(options),
      train_(this, (fs::path(directory_) / "train").string()),
      test_(this, "") {}

absl::StatusOr<std::unique_ptr<ImageFolder>> ImageFolder::Open(const std::string& directory,
                                                               const ImageFolderOptions& options,
                                                               const DatasetLimits& limits) {
  NETADAPT_RETURN_IF_ERROR(CheckOptions(options));
  NETADAPT_RETURN_IF_ERROR(CheckDatasetDirectory(directory, "imagefolder"));
  const fs::path root(directory);
  const fs::path train_dir = root / "train";
  fs::path test_dir = root / "val";
  if (!IsDirectory(test_dir)) test_dir = root / "test";
  if (!IsDirectory(train_dir) || !IsDirectory(test_dir)) {
    return absl::InvalidArgumentError(
        absl::StrCat("imagefolder ", directory, ": expected folders train/ and val/ (or test/), ",
                     "each with one folder of images per class; ",
                     IsDirectory(train_dir) ? "val/ and test/ are" : "train/ is", " missing"));
  }
  NETADAPT_ASSIGN_OR_RETURN(const ClassFiles train, ScanSplit(train_dir));
  NETADAPT_ASSIGN_OR_RETURN(const ClassFiles test, ScanSplit(test_dir));
  NETADAPT_RETURN_IF_ERROR(CheckNoEmptyClass(train_dir, train));
  NETADAPT_RETURN_IF_ERROR(CheckNoEmptyClass(test_dir, test));
  std::vector<std::string> only_train;
  std::vector<std::string> only_test;
  for (const auto& [name, files] : train) {
    if (!test.count(name)) only_train.push_back(name);
  }
  for (const auto& [name, files] : test) {
    if (!train.count(name)) only_test.push_back(name);
  }
  const std::string test_name = test_dir.filename().string();
  if (!only_train.empty() || !only_test.empty()) {
    std::string problem = absl::StrCat("imagefolder ", directory, ": train/ and ", test_name,
                                       "/ have different classes");
    if (!only_train.empty()) absl::StrAppend(&problem, "; only in train/: ", FewNames(only_train));
    if (!only_test.empty()) {
      absl::StrAppend(&problem, "; only in ", test_name, "/: ", FewNames(only_test));
    }
    return absl::InvalidArgumentError(problem);
  }
  if (options.classes > 0 && static_cast<size_t>(options.classes) != train.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("imagefolder ", directory, ": has ", train.size(),
                     " classes, the spec says classes=", options.classes));
  }

  std::unique_ptr<ImageFolder> folder(new ImageFolder(directory, options));
  folder->test_.name_ = test_dir.string();
  int32_t label = 0;
  for (const auto& [name, files] : train) {
    folder->classes_.push_back(name);
    for (const std::string& path : files) folder->train_.files_.push_back({path, label});
    for (const std::string& path : test.at(name)) folder->test_.files_.push_back({path, label});
    ++label;
  }
  NETADAPT_RETURN_IF_ERROR(
      KeepRandomSubset(limits.max_train, kTrainSubsetSeed, &folder->train_.files_));
  NETADAPT_RETURN_IF_ERROR(
      KeepRandomSubset(limits.max_test, kTestSubsetSeed, &folder->test_.files_));

  std::vector<float> mean;
  std::vector<float> std;
  ResolvedNormalization(options, &mean, &std);
  NETADAPT_ASSIGN_OR_RETURN(folder->normalization_, MakeNormalization(mean, std));

  if (options.resize > 0 || options.crop > 0) {
    folder->crop_ = options.crop > 0 ? options.crop : options.resize;
    folder->resize_ = options.resize > 0 ? options.resize : options.crop;
    folder->height_ = folder->crop_;
    folder->width_ = folder->crop_;
  } else {
    // The images' own size, from the first training image (a later one of another size
    // fails when it is loaded); with skip_corrupt, from the first readable one.
    absl::StatusOr<ImageHeader> header;
    for (const ImageFile& file : folder->train_.files_) {
      NETADAPT_ASSIGN_OR_RETURN(const std::string bytes, ReadFile(file.path));
      header = ReadImageHeader(bytes, file.path);
      if (header.ok() || !options.skip_corrupt) break;
    }
    if (!header.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          header.status().message(),
          options.skip_corrupt ? " (no training image is readable)"
                               : " (the first training image, read for the images' size: give "
                                 "resize= and crop=, or fix the file)"));
    }
    folder->width_ = header->width;
    folder->height_ = header->height;
  }
  return folder;
}

bool ImageFolder::IsSkipped(const std::string& path) const {
  absl::MutexLock lock(&mu_);
  return skipped_.contains(path);
}

void ImageFolder::Skip(const std::string& path, const absl::Status& why) const {
  absl::MutexLock lock(&mu_);
  if (!skipped_.insert(path).second) return;
  Logger("data")->warn("skipping {} (skip_corrupt=1): {}; {} file(s) of {} skipped so far", path,
                       std::string(why.message()), skipped_.size(), directory_);
}

int64_t ImageFolder::skipped_files() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(skipped_.size());
}

std::vector<std::string> ImageFolder::skipped_paths() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> paths(skipped_.begin(), skipped_.end());
  std::sort(paths.begin(), paths.end());
  return paths;
}

}  // namespace netadapt::common
