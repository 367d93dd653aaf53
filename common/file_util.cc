#include "common/file_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace netadapt::common {
namespace {

// Closes the descriptor on every path out of a function.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int Release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

}  // namespace

absl::Status ErrnoStatus(absl::string_view what, const std::string& path, int error) {
  if (error == ENOSPC || error == EDQUOT) {
    // The words operators grep for, whatever the libc's strerror says for EDQUOT.
    return absl::ResourceExhaustedError(absl::StrCat(what, " ", path,
                                                     ": no space left on device (",
                                                     std::strerror(error), ")"));
  }
  const std::string message = absl::StrCat(what, " ", path, ": ", std::strerror(error));
  if (error == ENOENT) return absl::NotFoundError(message);
  if (error == EACCES || error == EPERM || error == EISDIR || error == EROFS) {
    return absl::FailedPreconditionError(message);
  }
  return absl::UnavailableError(message);
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoStatus("cannot open", path, errno);
  std::string content;
  char buffer[1 << 16];
  while (true) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("cannot read", path, errno);
    }
    content.append(buffer, static_cast<size_t>(n));
  }
  return content;
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view content) {
  const std::string tmp = path + ".tmp";
  {
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd.get() < 0) return ErrnoStatus("cannot create", tmp, errno);
    size_t written = 0;
    while (written < content.size()) {
      const ssize_t n = ::write(fd.get(), content.data() + written, content.size() - written);
      if (n < 0) {
        if (errno == EINTR) continue;
        const int error = errno;
        ::unlink(tmp.c_str());
        return ErrnoStatus("cannot write", tmp, error);
      }
      written += static_cast<size_t>(n);
    }
    if (::fsync(fd.get()) != 0) {
      const int error = errno;
      ::unlink(tmp.c_str());
      return ErrnoStatus("cannot fsync", tmp, error);
    }
    if (::close(fd.Release()) != 0) return ErrnoStatus("cannot close", tmp, errno);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(tmp.c_str());
    return ErrnoStatus("cannot rename onto", path, error);
  }
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  Fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() < 0) return ErrnoStatus("cannot open directory", dir, errno);
  if (::fsync(dir_fd.get()) != 0) return ErrnoStatus("cannot fsync directory", dir, errno);
  return absl::OkStatus();
}

}  // namespace netadapt::common
