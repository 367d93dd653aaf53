// libFuzzer target: the master's journal and snapshot files (common/journal.h,
// master/job_store.cc), read at every start from a disk that may hold anything after a crash
// or a fault. Parsing must never crash or allocate by a corrupted length, and what it accepts
// must be what the writer would have written.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "common/journal.h"
#include "netadapt/v1/job_store.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  const netadapt::common::JournalContents contents =
      netadapt::common::ParseJournal(bytes, "journal.log");
  // The valid records, re-encoded, are exactly the valid prefix; a torn tail and corruption
  // never both end the file; the torn bytes are the rest of it.
  std::string encoded;
  for (const std::string& record : contents.records) {
    encoded += netadapt::common::EncodeJournalRecord(record);
  }
  if (encoded != bytes.substr(0, static_cast<size_t>(contents.valid_bytes))) __builtin_trap();
  if (contents.records.size() != contents.offsets.size()) __builtin_trap();
  if (contents.corruption.ok() &&
      contents.valid_bytes + contents.torn_bytes != static_cast<int64_t>(size)) {
    __builtin_trap();
  }
  if (!contents.corruption.ok() && contents.torn_bytes != 0) __builtin_trap();
  // Records decode as the store would decode them.
  for (const std::string& record : contents.records) {
    netadapt::v1::JobStoreRecord parsed;
    (void)parsed.ParseFromString(record);
  }
  // The same bytes as a snapshot file.
  absl::StatusOr<std::string> snapshot =
      netadapt::common::ParseSingleRecord(bytes, "snapshot.pb");
  if (snapshot.ok()) {
    netadapt::v1::JobStoreSnapshot parsed;
    (void)parsed.ParseFromString(*snapshot);
  }
  return 0;
}
