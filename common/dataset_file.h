#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace netadapt::common {

// The bytes of one dataset file, inflated when it was gzipped.
struct DatasetFile {
  std::string path;     // The file actually read: `path` or `path`.gz.
  std::string content;  // Uncompressed bytes.
};

// Reads a dataset file. When `path` does not exist but `path`.gz does, reads that one
// (Debian's dataset packages ship .gz files). Content that starts with the gzip magic bytes
// (0x1f 0x8b) is inflated with zlib, whatever the name.
// Errors name the file: NotFound when neither `path` nor `path`.gz exists; InvalidArgument
// for a .gz name without gzip data, or corrupt or truncated gzip data; other I/O errors as
// ReadFile (file_util.h) returns them.
absl::StatusOr<DatasetFile> ReadDatasetFile(const std::string& path);

// Inflates gzip data (one member or several concatenated). InvalidArgument naming `path`
// when the data is corrupt, truncated or followed by bytes that are not another member.
absl::StatusOr<std::string> Gunzip(absl::string_view data, absl::string_view path);

// OK when `dir` is an existing directory. NotFound ("<what> directory <dir> does not
// exist") otherwise, or InvalidArgument when it is a file.
absl::Status CheckDatasetDirectory(const std::string& dir, absl::string_view what);

}  // namespace netadapt::common
