#include "common/dataset_spec.h"

#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/cifar_reader.h"
#include "common/idx_reader.h"
#include "common/status_macros.h"

namespace netadapt::common {
namespace {

constexpr DatasetKind kKinds[] = {DatasetKind::kCifar10, DatasetKind::kMnist,
                                  DatasetKind::kFashionMnist, DatasetKind::kSynthetic,
                                  DatasetKind::kImageFolder};

absl::Status SpecError(absl::string_view spec, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("dataset spec \"", spec, "\": ", problem));
}

// Parses an integer in [min, max] for `key`.
absl::StatusOr<int64_t> ParseInt(absl::string_view spec, absl::string_view key,
                                 absl::string_view value, int64_t min, int64_t max) {
  int64_t parsed = 0;
  if (!absl::SimpleAtoi(value, &parsed)) {
    return SpecError(spec, absl::StrCat(key, "=", value, " is not an integer"));
  }
  if (parsed < min || parsed > max) {
    return SpecError(spec, absl::StrCat(key, "=", value, " is outside [", min, ", ", max, "]"));
  }
  return parsed;
}

// "CxHxW" with each part >= 1.
absl::Status ParseShape(absl::string_view spec, absl::string_view value,
                        SyntheticDatasetOptions* options) {
  const std::vector<absl::string_view> parts = absl::StrSplit(value, 'x');
  if (parts.size() != 3) {
    return SpecError(spec, absl::StrCat("shape=", value, " is not CxHxW, e.g. 3x32x32"));
  }
  int* fields[] = {&options->channels, &options->height, &options->width};
  for (int i = 0; i < 3; ++i) {
    int value_i = 0;
    if (!absl::SimpleAtoi(parts[i], &value_i) || value_i < 1) {
      return SpecError(spec,
                       absl::StrCat("shape=", value, " needs positive integers, e.g. 3x32x32"));
    }
    *fields[i] = value_i;
  }
  return absl::OkStatus();
}

// 0 or 1.
absl::StatusOr<bool> ParseBool(absl::string_view spec, absl::string_view key,
                               absl::string_view value) {
  if (value == "0") return false;
  if (value == "1") return true;
  return SpecError(spec, absl::StrCat(key, "=", value, " is not 0 or 1"));
}

// One float, or several joined by ':'; each finite, and > 0 when `positive`.
absl::StatusOr<std::vector<float>> ParseFloats(absl::string_view spec, absl::string_view key,
                                               absl::string_view value, bool positive) {
  std::vector<float> values;
  for (absl::string_view part : absl::StrSplit(value, ':')) {
    float parsed = 0;
    if (!absl::SimpleAtof(part, &parsed) || !std::isfinite(parsed) || (positive && !(parsed > 0))) {
      return SpecError(spec, absl::StrCat(key, "=", value, " is not a ", positive ? "positive " : "",
                                          "number or a list of them joined by ':'"));
    }
    values.push_back(parsed);
  }
  return values;
}

// The image-folder keys; false when `key` is not one.
absl::StatusOr<bool> ParseImageFolderOption(absl::string_view spec, absl::string_view key,
                                            absl::string_view value,
                                            ImageFolderOptions* options) {
  if (key == "resize" || key == "crop") {
    NETADAPT_ASSIGN_OR_RETURN(const int64_t size, ParseInt(spec, key, value, 1, 65536));
    (key == "resize" ? options->resize : options->crop) = static_cast<int>(size);
  } else if (key == "random_resized_crop") {
    NETADAPT_ASSIGN_OR_RETURN(options->random_resized_crop, ParseBool(spec, key, value));
  } else if (key == "flip") {
    NETADAPT_ASSIGN_OR_RETURN(options->flip, ParseBool(spec, key, value));
  } else if (key == "skip_corrupt") {
    NETADAPT_ASSIGN_OR_RETURN(options->skip_corrupt, ParseBool(spec, key, value));
  } else if (key == "min_scale") {
    double scale = 0;
    if (!absl::SimpleAtod(value, &scale) || !(scale > 0 && scale <= 1)) {
      return SpecError(spec, absl::StrCat("min_scale=", value, " is not a number in (0, 1]"));
    }
    options->min_scale = scale;
  } else if (key == "mean") {
    NETADAPT_ASSIGN_OR_RETURN(options->mean, ParseFloats(spec, key, value, /*positive=*/false));
  } else if (key == "std") {
    NETADAPT_ASSIGN_OR_RETURN(options->std, ParseFloats(spec, key, value, /*positive=*/true));
  } else if (key == "channels") {
    if (value != "1" && value != "3") {
      return SpecError(spec, absl::StrCat("channels=", value, " is not 1 or 3"));
    }
    options->channels = value == "1" ? 1 : 3;
  } else if (key == "classes") {
    NETADAPT_ASSIGN_OR_RETURN(const int64_t classes, ParseInt(spec, key, value, 1, 1 << 20));
    options->classes = static_cast<int>(classes);
  } else {
    return false;
  }
  return true;
}

// Floats joined by ':' with up to 6 significant digits.
std::string JoinFloats(const std::vector<float>& values) {
  return absl::StrJoin(values, ":", [](std::string* out, float v) { absl::StrAppend(out, v); });
}

}  // namespace

absl::string_view DatasetKindName(DatasetKind kind) {
  switch (kind) {
    case DatasetKind::kCifar10:
      return "cifar10";
    case DatasetKind::kMnist:
      return "mnist";
    case DatasetKind::kFashionMnist:
      return "fashion-mnist";
    case DatasetKind::kSynthetic:
      return "synthetic";
    case DatasetKind::kImageFolder:
      return "imagefolder";
  }
  return "unknown";
}

absl::StatusOr<DatasetSpec> ParseDatasetSpec(absl::string_view spec) {
  const size_t colon = spec.find(':');
  const absl::string_view kind_name = spec.substr(0, colon);
  DatasetSpec parsed;
  bool known = false;
  std::vector<absl::string_view> names;
  for (const DatasetKind kind : kKinds) {
    names.push_back(DatasetKindName(kind));
    if (DatasetKindName(kind) == kind_name) {
      parsed.kind = kind;
      known = true;
    }
  }
  if (!known) {
    return SpecError(spec, absl::StrCat("unknown dataset kind \"", kind_name, "\", expected ",
                                        absl::StrJoin(names, ", "), " (as KIND:ARGS)"));
  }
  const absl::string_view args = colon == absl::string_view::npos ? "" : spec.substr(colon + 1);
  std::vector<absl::string_view> items;
  if (!args.empty()) items = absl::StrSplit(args, ',');
  const bool synthetic = parsed.kind == DatasetKind::kSynthetic;
  size_t first_option = 0;
  if (!synthetic) {
    if (items.empty() || items[0].empty() || items[0].find('=') != absl::string_view::npos) {
      return SpecError(spec,
                       absl::StrCat(kind_name, " needs a directory: ", kind_name, ":/path/to/dir"));
    }
    parsed.directory = std::string(items[0]);
    first_option = 1;
  }

  absl::flat_hash_set<absl::string_view> seen;
  constexpr int64_t kMaxSize = int64_t{1} << 40;
  for (size_t i = first_option; i < items.size(); ++i) {
    const std::pair<absl::string_view, absl::string_view> key_value =
        absl::StrSplit(items[i], absl::MaxSplits('=', 1));
    const absl::string_view key = key_value.first;
    const absl::string_view value = key_value.second;
    if (items[i].find('=') == absl::string_view::npos || value.empty()) {
      return SpecError(spec, absl::StrCat("\"", items[i], "\" is not KEY=VALUE"));
    }
    if (!seen.insert(key).second) return SpecError(spec, absl::StrCat(key, " given twice"));
    if (key == "max_train") {
      NETADAPT_ASSIGN_OR_RETURN(parsed.limits.max_train, ParseInt(spec, key, value, 0, kMaxSize));
    } else if (key == "max_test") {
      NETADAPT_ASSIGN_OR_RETURN(parsed.limits.max_test, ParseInt(spec, key, value, 0, kMaxSize));
    } else if (synthetic && key == "classes") {
      NETADAPT_ASSIGN_OR_RETURN(const int64_t classes, ParseInt(spec, key, value, 1, 65536));
      parsed.synthetic.num_classes = static_cast<int>(classes);
    } else if (synthetic && key == "shape") {
      NETADAPT_RETURN_IF_ERROR(ParseShape(spec, value, &parsed.synthetic));
    } else if (synthetic && key == "train") {
      NETADAPT_ASSIGN_OR_RETURN(parsed.synthetic.train_size,
                                ParseInt(spec, key, value, 0, kMaxSize));
    } else if (synthetic && key == "test") {
      NETADAPT_ASSIGN_OR_RETURN(parsed.synthetic.test_size,
                                ParseInt(spec, key, value, 0, kMaxSize));
    } else if (synthetic && key == "seed") {
      uint64_t seed = 0;
      if (!absl::SimpleAtoi(value, &seed)) {
        return SpecError(spec, absl::StrCat("seed=", value, " is not a non-negative integer"));
      }
      parsed.synthetic.seed = seed;
    } else if (synthetic && key == "noise") {
      double noise = 0;
      if (!absl::SimpleAtod(value, &noise) || !(noise >= 0 && noise <= 1)) {
        return SpecError(spec, absl::StrCat("noise=", value, " is not a number in [0, 1]"));
      }
      parsed.synthetic.noise = noise;
    } else {
      bool image_folder_key = false;
      if (parsed.kind == DatasetKind::kImageFolder) {
        NETADAPT_ASSIGN_OR_RETURN(image_folder_key,
                                  ParseImageFolderOption(spec, key, value, &parsed.image_folder));
      }
      if (!image_folder_key) {
        absl::string_view known = " (known: max_train, max_test)";
        if (synthetic) {
          known = " (known: classes, shape, train, test, seed, noise, max_train, max_test)";
        } else if (parsed.kind == DatasetKind::kImageFolder) {
          known =
              " (known: resize, crop, random_resized_crop, min_scale, flip, mean, std, channels, "
              "classes, skip_corrupt, max_train, max_test)";
        }
        return SpecError(spec, absl::StrCat("unknown key \"", key, "\" for ", kind_name, known));
      }
    }
  }
  if (parsed.kind == DatasetKind::kImageFolder) {
    const ImageFolderOptions& options = parsed.image_folder;
    for (const auto& [key, values] :
         {std::pair<absl::string_view, const std::vector<float>*>{"mean", &options.mean},
          {"std", &options.std}}) {
      if (values->size() > 1 && values->size() != static_cast<size_t>(options.channels)) {
        return SpecError(spec, absl::StrCat(key, " has ", values->size(), " values for ",
                                            options.channels,
                                            " channels: give one, or one per channel"));
      }
    }
  }
  return parsed;
}

std::string FormatDatasetSpec(const DatasetSpec& spec) {
  std::vector<std::string> items;
  if (spec.kind == DatasetKind::kSynthetic) {
    const SyntheticDatasetOptions& s = spec.synthetic;
    items.push_back(absl::StrCat("classes=", s.num_classes));
    items.push_back(absl::StrCat("shape=", s.channels, "x", s.height, "x", s.width));
    items.push_back(absl::StrCat("train=", s.train_size));
    items.push_back(absl::StrCat("test=", s.test_size));
    items.push_back(absl::StrCat("seed=", s.seed));
    items.push_back(absl::StrCat("noise=", s.noise));
  } else {
    items.push_back(spec.directory);
  }
  if (spec.kind == DatasetKind::kImageFolder) {
    const ImageFolderOptions& f = spec.image_folder;
    if (f.resize > 0) items.push_back(absl::StrCat("resize=", f.resize));
    if (f.crop > 0) items.push_back(absl::StrCat("crop=", f.crop));
    items.push_back(absl::StrCat("random_resized_crop=", f.random_resized_crop ? 1 : 0));
    items.push_back(absl::StrCat("min_scale=", f.min_scale));
    items.push_back(absl::StrCat("flip=", f.flip ? 1 : 0));
    if (!f.mean.empty()) items.push_back(absl::StrCat("mean=", JoinFloats(f.mean)));
    if (!f.std.empty()) items.push_back(absl::StrCat("std=", JoinFloats(f.std)));
    items.push_back(absl::StrCat("channels=", f.channels));
    if (f.classes > 0) items.push_back(absl::StrCat("classes=", f.classes));
    items.push_back(absl::StrCat("skip_corrupt=", f.skip_corrupt ? 1 : 0));
  }
  if (spec.limits.max_train > 0) items.push_back(absl::StrCat("max_train=", spec.limits.max_train));
  if (spec.limits.max_test > 0) items.push_back(absl::StrCat("max_test=", spec.limits.max_test));
  return absl::StrCat(DatasetKindName(spec.kind), ":", absl::StrJoin(items, ","));
}

absl::StatusOr<DatasetSplits> LoadDataset(const DatasetSpec& spec) {
  switch (spec.kind) {
    case DatasetKind::kCifar10:
      return LoadCifar10(spec.directory, spec.limits);
    case DatasetKind::kMnist:
    case DatasetKind::kFashionMnist:
      return LoadIdxDirectory(spec.directory, DatasetKindName(spec.kind), spec.limits);
    case DatasetKind::kSynthetic: {
      NETADAPT_ASSIGN_OR_RETURN(DatasetSplits splits, MakeSyntheticDataset(spec.synthetic));
      KeepFirst(spec.limits.max_train, &splits.train);
      KeepFirst(spec.limits.max_test, &splits.test);
      return splits;
    }
    case DatasetKind::kImageFolder:
      return absl::InvalidArgumentError(
          absl::StrCat("dataset spec ", FormatDatasetSpec(spec),
                       ": an image folder is decoded on demand, not loaded into memory (open it "
                       "with ImageFolder::Open)"));
  }
  return absl::InvalidArgumentError("dataset spec: unknown kind");
}

}  // namespace netadapt::common
