#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace netadapt::common {

// An append-only file of CRC-checked records (the master's journal, DESIGN.md section 6).
// Each record is a 16-byte header then the payload, integers little-endian:
//
//   offset 0   magic        "NAJ1"
//   offset 4   length       payload bytes, at most kMaxJournalRecordBytes
//   offset 8   payload_crc  CRC-32C of the payload
//   offset 12  header_crc   CRC-32C of bytes 0-11 (so a corrupted length is detected before
//                           it is believed)
//   offset 16  payload
//
// Reading tells a torn tail (the last record incomplete: the writer died mid-append; dropped)
// from corruption (a complete record that does not check, or bytes that are no record with
// more data after them; reported as DataLoss with the offset). See ReadJournal.

inline constexpr int64_t kJournalHeaderBytes = 16;
// A record's payload is at most 64 MiB: a corrupted length cannot make a reader allocate more.
inline constexpr int64_t kMaxJournalRecordBytes = int64_t{64} << 20;

// The framed bytes of one record holding `payload` (under 4 GiB; readers bound it lower).
std::string EncodeJournalRecord(absl::string_view payload);

// What a journal holds.
struct JournalContents {
  // The payloads of the valid records, in file order, and the byte offset of each.
  std::vector<std::string> records;
  std::vector<int64_t> offsets;
  // The end of the last valid record: where the next append goes, once the file is truncated
  // there (JournalWriter::Open does it).
  int64_t valid_bytes = 0;
  // Bytes after `valid_bytes` dropped as a torn tail (an incomplete last record, or a tail of
  // zero bytes a filesystem left after a crash); 0 when the file ends cleanly. Worth a warning,
  // not an error: the append that wrote them never returned.
  int64_t torn_bytes = 0;
  // OK, or DataLoss naming the file and the byte offset of the first record that is corrupt:
  // a complete record whose CRC does not match, a header that does not check with more data
  // after it, a length over kMaxJournalRecordBytes. `records` then holds what came before it,
  // and nothing after it is trusted (valid_bytes and torn_bytes describe the valid prefix).
  absl::Status corruption;
};

// Parses journal bytes; `name` (the file) goes into the corruption message. A record longer
// than `max_record_bytes` is corruption. Never fails: everything it finds is in the result.
JournalContents ParseJournal(absl::string_view bytes, absl::string_view name,
                             int64_t max_record_bytes = kMaxJournalRecordBytes);

// ParseJournal of the file at `path`. A missing file is an empty journal. Unavailable (or
// FailedPrecondition for permissions) when the file cannot be read; corruption is reported in
// the result's `corruption`, not as the returned status.
absl::StatusOr<JournalContents> ReadJournal(const std::string& path);

// The payload of a file that must hold exactly one record and nothing else (a snapshot written
// with EncodeJournalRecord and WriteFileAtomically), of at most `max_record_bytes`. DataLoss
// naming `name` and the offset when it does not (a torn record counts: atomic writes leave
// none).
absl::StatusOr<std::string> ParseSingleRecord(absl::string_view bytes, absl::string_view name,
                                              int64_t max_record_bytes = kMaxJournalRecordBytes);

// Appends records to a journal file. Not thread-safe: the owner serialises calls.
class JournalWriter {
 public:
  // Opens `path` for appending (creating it when missing) after cutting it to `valid_bytes`,
  // the end of its last valid record as ReadJournal found it: a torn tail never sits before
  // a new record. Unavailable (ResourceExhausted on a full disk) naming the path when the file
  // cannot be opened or truncated.
  static absl::StatusOr<std::unique_ptr<JournalWriter>> Open(const std::string& path,
                                                             int64_t valid_bytes);
  ~JournalWriter();
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;

  // Writes one record and fsyncs the file: when it returns OK the record survives a crash,
  // so callers act or acknowledge only after it. On failure nothing of the record stays in the
  // file (it is truncated back to the previous end; if even that fails, the next Append
  // truncates first and fails while it cannot), so a retry appends cleanly.
  // ResourceExhausted naming the path and "no space left on device" on ENOSPC / EDQUOT;
  // InvalidArgument for a payload over kMaxJournalRecordBytes; Unavailable for other I/O
  // errors.
  absl::Status Append(absl::string_view payload);

  // Empties the file (truncate to 0, fsync): called once every record is in a snapshot.
  // Errors as Append's; on failure the next Append cuts the file first.
  absl::Status Reset();

  // Bytes of valid records in the file.
  int64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  JournalWriter(std::string path, int fd, int64_t size)
      : path_(std::move(path)), fd_(fd), size_(size) {}
  // Cuts the file back to size_ when a failed append may have left bytes after it.
  absl::Status Repair();

  const std::string path_;
  int fd_;
  int64_t size_;
  bool needs_repair_ = false;
};

}  // namespace netadapt::common
