#include "common/artifact_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/status_macros.h"

namespace netadapt::common {
namespace {

absl::Status ErrnoStatus(absl::string_view what, const std::string& path) {
  return absl::UnavailableError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

absl::Status WriteAll(int fd, absl::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("writing", path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateDigest(absl::string_view digest, absl::string_view field) {
  bool ok = digest.size() == 64;
  for (char c : digest) ok = ok && (absl::ascii_isdigit(c) || (c >= 'a' && c <= 'f'));
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": \"", digest.substr(0, 80), "\" is not a sha256 (64 lowercase hex digits)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ArtifactStore>> ArtifactStore::Open(const std::string& directory) {
  std::error_code error;
  std::filesystem::create_directories(std::filesystem::path(directory) / "tmp", error);
  if (error) {
    return absl::UnavailableError(
        absl::StrCat("artifact store ", directory, ": ", error.message()));
  }
  return std::unique_ptr<ArtifactStore>(new ArtifactStore(directory));
}

std::string ArtifactStore::PathOf(absl::string_view digest) const {
  return absl::StrCat(directory_, "/", digest.substr(0, 2), "/", digest);
}

std::string ArtifactStore::TempPath() {
  absl::MutexLock lock(&mu_);
  return absl::StrCat(directory_, "/tmp/", ::getpid(), ".", reinterpret_cast<uintptr_t>(this),
                      ".", temp_counter_++);
}

absl::Status ArtifactStore::Install(const std::string& temp_path, absl::string_view digest) {
  const std::string path = PathOf(digest);
  std::error_code error;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), error);
  if (error) return absl::UnavailableError(absl::StrCat("creating ", path, ": ", error.message()));
  // Same content under the same name: replacing an existing file is harmless.
  if (::rename(temp_path.c_str(), path.c_str()) != 0) return ErrnoStatus("installing", path);
  return absl::OkStatus();
}

absl::StatusOr<std::string> ArtifactStore::Put(absl::string_view content) {
  const std::string digest = Sha256Hex(content);
  if (Contains(digest)) return digest;
  NETADAPT_ASSIGN_OR_RETURN(std::unique_ptr<Writer> writer,
                            NewWriter(digest, static_cast<int64_t>(content.size())));
  NETADAPT_RETURN_IF_ERROR(writer->Append(content));
  NETADAPT_RETURN_IF_ERROR(writer->Commit());
  return digest;
}

bool ArtifactStore::Contains(absl::string_view digest) const {
  if (!ValidateDigest(digest).ok()) return false;
  struct stat info;
  return ::stat(PathOf(digest).c_str(), &info) == 0;
}

absl::StatusOr<int64_t> ArtifactStore::Size(absl::string_view digest) const {
  NETADAPT_RETURN_IF_ERROR(ValidateDigest(digest));
  struct stat info;
  if (::stat(PathOf(digest).c_str(), &info) != 0) {
    return absl::NotFoundError(absl::StrCat("artifact ", digest, " is not stored"));
  }
  return static_cast<int64_t>(info.st_size);
}

absl::StatusOr<std::string> ArtifactStore::Get(absl::string_view digest) const {
  NETADAPT_RETURN_IF_ERROR(ValidateDigest(digest));
  absl::StatusOr<std::string> content = ReadFile(PathOf(digest));
  if (absl::IsNotFound(content.status())) {
    return absl::NotFoundError(absl::StrCat("artifact ", digest, " is not stored"));
  }
  NETADAPT_RETURN_IF_ERROR(content.status());
  if (Sha256Hex(*content) != digest) {
    return absl::DataLossError(
        absl::StrCat("artifact ", digest, " is damaged on disk (", PathOf(digest), ")"));
  }
  return content;
}

absl::StatusOr<std::string> ArtifactStore::ReadChunk(absl::string_view digest, int64_t offset,
                                                     int64_t max_bytes) const {
  NETADAPT_ASSIGN_OR_RETURN(int64_t size, Size(digest));
  if (offset < 0 || offset > size) {
    return absl::OutOfRangeError(
        absl::StrCat("offset: ", offset, " is outside artifact ", digest, " of ", size, " bytes"));
  }
  const std::string path = PathOf(digest);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("opening", path);
  std::string chunk(static_cast<size_t>(std::min(max_bytes, size - offset)), '\0');
  size_t done = 0;
  while (done < chunk.size()) {
    const ssize_t n = ::pread(fd, chunk.data() + done, chunk.size() - done, offset + done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return ErrnoStatus("reading", path);
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return chunk;
}

absl::StatusOr<std::unique_ptr<ArtifactStore::Writer>> ArtifactStore::NewWriter(
    absl::string_view digest, int64_t size) {
  NETADAPT_RETURN_IF_ERROR(ValidateDigest(digest));
  if (size < 0) {
    return absl::InvalidArgumentError(absl::StrCat("size: ", size, " is negative"));
  }
  const std::string temp_path = TempPath();
  const int fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("creating", temp_path);
  return std::unique_ptr<Writer>(new Writer(*this, std::string(digest), size, temp_path, fd));
}

ArtifactStore::Writer::Writer(ArtifactStore& store, std::string digest, int64_t size,
                              std::string temp_path, int fd)
    : store_(store), digest_(std::move(digest)), size_(size), temp_path_(std::move(temp_path)),
      fd_(fd) {}

ArtifactStore::Writer::~Writer() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_path_.c_str());
}

absl::Status ArtifactStore::Writer::Append(absl::string_view data) {
  if (committed_ || fd_ < 0) return absl::FailedPreconditionError("artifact upload is closed");
  if (written_ + static_cast<int64_t>(data.size()) > size_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "artifact ", digest_, ": more than the announced ", size_, " bytes were sent"));
  }
  NETADAPT_RETURN_IF_ERROR(WriteAll(fd_, data, temp_path_));
  hasher_.Update(data);
  written_ += static_cast<int64_t>(data.size());
  return absl::OkStatus();
}

absl::Status ArtifactStore::Writer::Commit() {
  if (committed_ || fd_ < 0) return absl::FailedPreconditionError("artifact upload is closed");
  if (written_ != size_) {
    return absl::DataLossError(absl::StrCat("artifact ", digest_, ": received ", written_,
                                            " of the announced ", size_, " bytes"));
  }
  const std::string actual = BytesToHex(hasher_.Finish());
  if (actual != digest_) {
    return absl::DataLossError(absl::StrCat("artifact ", digest_,
                                            ": the received bytes hash to ", actual));
  }
  if (::fsync(fd_) != 0) return ErrnoStatus("syncing", temp_path_);
  ::close(fd_);
  fd_ = -1;
  NETADAPT_RETURN_IF_ERROR(store_.Install(temp_path_, digest_));
  committed_ = true;
  return absl::OkStatus();
}

}  // namespace netadapt::common
