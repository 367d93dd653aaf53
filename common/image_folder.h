#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/dataset.h"
#include "common/image_folder_options.h"
#include "common/image_source.h"
#include "common/image_transform.h"

namespace netadapt::common {

class ImageFolder;

// One image file of a folder and its class.
struct ImageFile {
  std::string path;
  int32_t label = 0;
};

// The train or test split of an ImageFolder: its files, decoded on demand with the folder's
// transforms (image_folder_options.h). Thread-safe.
class ImageFolderSplit final : public ImageSource {
 public:
  const std::string& name() const override { return name_; }
  int channels() const override;
  int height() const override;
  int width() const override;
  int num_classes() const override;
  int64_t size() const override { return static_cast<int64_t>(files_.size()); }

  // Reads and decodes files()[index]. With `augment`: RandomResizedCrop (if enabled, else
  // the evaluation crop) and a flip drawn from a generator seeded with `seed` (the box
  // first, then the flip); without: Resize + CenterCrop. Errors: InvalidArgument naming the
  // file for a corrupt or truncated image (unless skip_corrupt: then kSkippedLabel), or for
  // an image of another size when the folder uses the images' own size; the file's read
  // errors (file_util.h: NotFound, Unavailable) as they come; OutOfRange for a bad index.
  absl::StatusOr<int32_t> Load(int64_t index, bool augment, uint64_t seed,
                               absl::Span<float> out) const override;

  const std::vector<ImageFile>& files() const { return files_; }

 private:
  friend class ImageFolder;
  ImageFolderSplit(const ImageFolder* folder, std::string name) : folder_(folder), name_(name) {}

  const ImageFolder* folder_;
  std::string name_;
  std::vector<ImageFile> files_;
};

// A dataset in torchvision's ImageFolder layout:
//   DIR/train/<class>/**/*.{jpg,jpeg,png}   (case-insensitive extensions, any depth)
//   DIR/val/<class>/...   or DIR/test/<class>/...   (val/ when both exist)
// Classes are the folder names, sorted (byte order, as Python's sorted()), labelled 0, 1, ...;
// folders whose name starts with '.' and files with other extensions are ignored. Files are
// sorted by path within a class. The format comes from the file's first bytes, not its name.
//
// Thread-safe. Owned by its user (e.g. the worker's dataset cache); its splits point into it.
class ImageFolder {
 public:
  // Scans the folder and checks it before anything is decoded. InvalidArgument naming the
  // folder for: no train/ or neither val/ nor test/, no class folders, a class folder with
  // no JPEG or PNG file, different class sets in train and val (listing the differences),
  // options.classes that is not the number of classes, an invalid option (see
  // ParseDatasetSpec), and, when neither resize nor crop is given, a first training image
  // that cannot be read to learn the size from (with skip_corrupt: no readable one).
  // NotFound when DIR does not exist.
  // `limits` keeps max_train / max_test images drawn at random with a fixed seed (the same
  // on every machine), in folder order.
  static absl::StatusOr<std::unique_ptr<ImageFolder>> Open(const std::string& directory,
                                                           const ImageFolderOptions& options,
                                                           const DatasetLimits& limits = {});

  ImageFolder(const ImageFolder&) = delete;
  ImageFolder& operator=(const ImageFolder&) = delete;

  const ImageFolderSplit& train() const { return train_; }
  const ImageFolderSplit& test() const { return test_; }
  // Class names in label order.
  const std::vector<std::string>& classes() const { return classes_; }
  const ImageFolderOptions& options() const { return options_; }
  // The output size: crop x crop, or the images' own size.
  int height() const { return height_; }
  int width() const { return width_; }
  // Distinct files skipped as corrupt so far (skip_corrupt), in both splits, and their paths.
  int64_t skipped_files() const ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<std::string> skipped_paths() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  friend class ImageFolderSplit;
  ImageFolder(std::string directory, const ImageFolderOptions& options);

  // True when `path` was skipped before (it is not decoded again).
  bool IsSkipped(const std::string& path) const ABSL_LOCKS_EXCLUDED(mu_);
  // Records a skipped file; logs it the first time.
  void Skip(const std::string& path, const absl::Status& why) const ABSL_LOCKS_EXCLUDED(mu_);

  std::string directory_;
  ImageFolderOptions options_;
  std::vector<std::string> classes_;
  int height_ = 0;
  int width_ = 0;
  int resize_ = 0;  // 0: the images' own size.
  int crop_ = 0;
  Normalization normalization_;
  ImageFolderSplit train_;
  ImageFolderSplit test_;

  mutable absl::Mutex mu_;
  mutable absl::flat_hash_set<std::string> skipped_ ABSL_GUARDED_BY(mu_);
};

}  // namespace netadapt::common
