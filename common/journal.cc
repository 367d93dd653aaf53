#include "common/journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/crc32c.h"
#include "common/file_util.h"
#include "common/status_macros.h"

namespace netadapt::common {
namespace {

constexpr char kMagic[4] = {'N', 'A', 'J', '1'};

void PutUint32(uint32_t value, char* out) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((value >> (8 * i)) & 0xFF);
}

uint32_t GetUint32(const char* in) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value |= uint32_t{static_cast<unsigned char>(in[i])} << (8 * i);
  return value;
}

bool AllZero(absl::string_view bytes) {
  for (char c : bytes) {
    if (c != 0) return false;
  }
  return true;
}

absl::Status Corrupt(absl::string_view name, int64_t offset, absl::string_view what) {
  return absl::DataLossError(
      absl::StrCat(name, " is corrupt at byte offset ", offset, ": ", what));
}

}  // namespace

std::string EncodeJournalRecord(absl::string_view payload) {
  std::string record(kJournalHeaderBytes, '\0');
  record.replace(0, 4, kMagic, 4);
  PutUint32(static_cast<uint32_t>(payload.size()), &record[4]);
  PutUint32(Crc32c(payload), &record[8]);
  PutUint32(Crc32c(absl::string_view(record.data(), 12)), &record[12]);
  record.append(payload.data(), payload.size());
  return record;
}

JournalContents ParseJournal(absl::string_view bytes, absl::string_view name,
                             int64_t max_record_bytes) {
  JournalContents contents;
  const int64_t size = static_cast<int64_t>(bytes.size());
  int64_t offset = 0;
  while (offset < size) {
    const absl::string_view rest = bytes.substr(static_cast<size_t>(offset));
    const int64_t remaining = size - offset;
    // A crash mid-append leaves a prefix of the record; some filesystems leave zeros instead
    // of the data they never wrote. Either ends the file: a torn tail, not corruption.
    if (remaining < kJournalHeaderBytes || AllZero(rest)) {
      contents.torn_bytes = remaining;
      break;
    }
    if (rest.substr(0, 4) != absl::string_view(kMagic, 4)) {
      contents.corruption = Corrupt(name, offset, "no record header (bad magic)");
      break;
    }
    if (GetUint32(rest.data() + 12) != Crc32c(rest.substr(0, 12))) {
      contents.corruption = Corrupt(name, offset, "record header CRC mismatch");
      break;
    }
    const int64_t length = GetUint32(rest.data() + 4);
    if (length > max_record_bytes) {
      contents.corruption = Corrupt(name, offset,
                                    absl::StrCat("record length ", length, " exceeds the limit ",
                                                 max_record_bytes));
      break;
    }
    if (remaining - kJournalHeaderBytes < length) {
      // The header checks, so the length is what the writer meant: the payload was cut short.
      contents.torn_bytes = remaining;
      break;
    }
    const absl::string_view payload =
        rest.substr(static_cast<size_t>(kJournalHeaderBytes), static_cast<size_t>(length));
    if (GetUint32(rest.data() + 8) != Crc32c(payload)) {
      contents.corruption = Corrupt(name, offset, "record payload CRC mismatch");
      break;
    }
    contents.records.emplace_back(payload);
    contents.offsets.push_back(offset);
    offset += kJournalHeaderBytes + length;
    contents.valid_bytes = offset;
  }
  return contents;
}

absl::StatusOr<JournalContents> ReadJournal(const std::string& path) {
  absl::StatusOr<std::string> bytes = ReadFile(path);
  if (absl::IsNotFound(bytes.status())) return JournalContents{};
  if (!bytes.ok()) return bytes.status();
  return ParseJournal(*bytes, path);
}

absl::StatusOr<std::string> ParseSingleRecord(absl::string_view bytes, absl::string_view name,
                                              int64_t max_record_bytes) {
  JournalContents contents = ParseJournal(bytes, name, max_record_bytes);
  if (!contents.corruption.ok()) return contents.corruption;
  if (contents.torn_bytes > 0) {
    return Corrupt(name, contents.valid_bytes,
                   absl::StrCat(contents.torn_bytes, " bytes of an incomplete record"));
  }
  if (contents.records.size() != 1) {
    return absl::DataLossError(absl::StrCat(name, " holds ", contents.records.size(),
                                            " records instead of one"));
  }
  return std::move(contents.records[0]);
}

absl::StatusOr<std::unique_ptr<JournalWriter>> JournalWriter::Open(const std::string& path,
                                                                   int64_t valid_bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("cannot open journal", path, errno);
  auto writer = std::unique_ptr<JournalWriter>(new JournalWriter(path, fd, valid_bytes));
  struct stat info;
  if (::fstat(fd, &info) != 0) return ErrnoStatus("cannot stat journal", path, errno);
  // Only a regular file has a tail to cut (tests point the writer at /dev/full).
  if (S_ISREG(info.st_mode) && info.st_size != valid_bytes) {
    writer->needs_repair_ = true;
    NETADAPT_RETURN_IF_ERROR(writer->Repair());
  }
  return writer;
}

JournalWriter::~JournalWriter() {
  if (fd_ >= 0) ::close(fd_);
}

absl::Status JournalWriter::Repair() {
  if (!needs_repair_) return absl::OkStatus();
  struct stat info;
  if (::fstat(fd_, &info) != 0) return ErrnoStatus("cannot stat journal", path_, errno);
  if (S_ISREG(info.st_mode)) {
    if (::ftruncate(fd_, size_) != 0) {
      return ErrnoStatus("cannot truncate journal", path_, errno);
    }
    // The cut must be durable before a new record lands after it.
    if (::fsync(fd_) != 0) return ErrnoStatus("cannot fsync journal", path_, errno);
  }
  needs_repair_ = false;
  return absl::OkStatus();
}

absl::Status JournalWriter::Reset() {
  size_ = 0;
  needs_repair_ = true;
  return Repair();
}

absl::Status JournalWriter::Append(absl::string_view payload) {
  if (static_cast<int64_t>(payload.size()) > kMaxJournalRecordBytes) {
    return absl::InvalidArgumentError(absl::StrCat("journal record of ", payload.size(),
                                                   " bytes exceeds the limit ",
                                                   kMaxJournalRecordBytes, " (", path_, ")"));
  }
  NETADAPT_RETURN_IF_ERROR(Repair());
  const std::string record = EncodeJournalRecord(payload);
  size_t written = 0;
  absl::Status status;
  while (written < record.size()) {
    const ssize_t n = ::pwrite(fd_, record.data() + written, record.size() - written,
                               static_cast<off_t>(size_ + static_cast<int64_t>(written)));
    if (n < 0) {
      if (errno == EINTR) continue;
      status = ErrnoStatus("cannot append to journal", path_, errno);
      break;
    }
    written += static_cast<size_t>(n);
  }
  // fdatasync: the size changed, so it writes the inode's size too, and skips only the times.
  if (status.ok() && ::fdatasync(fd_) != 0) {
    status = ErrnoStatus("cannot fsync journal", path_, errno);
  }
  if (!status.ok()) {
    // Whatever reached the file is not a record the caller was told about: cut it now, or
    // before the next append if the disk refuses even that.
    needs_repair_ = true;
    Repair().IgnoreError();
    return status;
  }
  size_ += static_cast<int64_t>(record.size());
  return absl::OkStatus();
}

}  // namespace netadapt::common
