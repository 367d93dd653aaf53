#pragma once

#include <vector>

namespace netadapt::common {

// How the images of an image folder (image_folder.h) become network inputs: torchvision's
// ImageNet recipe by default. The `imagefolder:` dataset spec sets these (dataset_spec.h).
struct ImageFolderOptions {
  // The output is crop x crop pixels. Evaluation (and training without random_resized_crop)
  // scales the shorter side to `resize`, then takes the central crop x crop. 0 for both: the
  // images' own size, which must then be the same for all (e.g. 28x28 digits). Only one of
  // them given: the other takes its value.
  int resize = 0;
  int crop = 0;
  // Training: a random part of 3/4..4/3 aspect ratio and min_scale..1 of the area, resized to
  // crop x crop (torchvision's RandomResizedCrop), then a left-right flip with probability
  // 1/2 (RandomHorizontalFlip).
  bool random_resized_crop = true;
  double min_scale = 0.08;
  bool flip = true;
  // Normalisation of values scaled to [0, 1]: (v - mean[c]) / std[c]. Empty: ImageNet's,
  // (0.485, 0.456, 0.406) and (0.229, 0.224, 0.225), or for 1 channel their averages, 0.449
  // and 0.226. One value applies to every channel.
  std::vector<float> mean;
  std::vector<float> std;
  // 3: RGB (grey images replicated); 1: grey (colour images converted to luma).
  int channels = 3;
  // The number of class folders expected; 0 = whatever the folder has. A master, which does
  // not see the folder, needs it to build a zoo model's classifier.
  int classes = 0;
  // A corrupt or truncated image fails the task, naming the file; with skip_corrupt it is
  // logged once, counted, and left out of the loss and of accuracy instead.
  bool skip_corrupt = false;
};

// The per-channel mean and std `options` normalise with (its own, broadcast to every channel
// when it has one value, or the defaults above). Options as ParseDatasetSpec accepts them.
inline void ResolvedNormalization(const ImageFolderOptions& options, std::vector<float>* mean,
                                  std::vector<float>* std) {
  const bool grey = options.channels == 1;
  const std::vector<float> kImageNetMean = {0.485f, 0.456f, 0.406f};
  const std::vector<float> kImageNetStd = {0.229f, 0.224f, 0.225f};
  auto resolve = [&](const std::vector<float>& given, const std::vector<float>& imagenet,
                     float grey_default, std::vector<float>* out) {
    if (given.empty()) {
      *out = grey ? std::vector<float>{grey_default} : imagenet;
    } else if (given.size() == 1) {
      out->assign(static_cast<size_t>(options.channels), given[0]);
    } else {
      *out = given;
    }
  };
  resolve(options.mean, kImageNetMean, 0.449f, mean);
  resolve(options.std, kImageNetStd, 0.226f, std);
}

}  // namespace netadapt::common
