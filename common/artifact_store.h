#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/sha256.h"

namespace netadapt::common {

// Artifacts move in chunks of at most this many bytes: well under gRPC's default 4 MiB
// message limit with the envelope, and large enough that per-message costs vanish.
inline constexpr int64_t kArtifactChunkBytes = int64_t{1} << 20;

// InvalidArgument naming `field` unless `digest` is 64 lowercase hex digits (a sha256).
absl::Status ValidateDigest(absl::string_view digest, absl::string_view field = "digest");

// A content-addressed store of immutable blobs (checkpoints, LUTs) on local disk: each blob is
// the file <directory>/<first 2 hex digits>/<sha256>, written atomically and verified on the
// way in, so a reader sees a complete, correct blob or none. The master keeps every job's
// models here; workers use one as a cache. Thread-safe; several processes may share a
// directory (writes go to unique temporary files and are renamed into place).
class ArtifactStore {
 public:
  // Creates `directory` if needed. Unavailable when it cannot be created or written.
  static absl::StatusOr<std::unique_ptr<ArtifactStore>> Open(const std::string& directory);

  // Stores `content`; returns its digest. Storing existing content again is a cheap no-op.
  absl::StatusOr<std::string> Put(absl::string_view content);

  bool Contains(absl::string_view digest) const;
  // Size in bytes. NotFound when absent; InvalidArgument for a malformed digest.
  absl::StatusOr<int64_t> Size(absl::string_view digest) const;
  // The whole blob, verified against its digest (DataLoss when the file was damaged on disk).
  absl::StatusOr<std::string> Get(absl::string_view digest) const;
  // Up to `max_bytes` from `offset` (fewer at the end; empty at or past the end), unverified:
  // for streaming to a receiver that verifies the whole. OutOfRange when offset > size.
  absl::StatusOr<std::string> ReadChunk(absl::string_view digest, int64_t offset,
                                        int64_t max_bytes) const;
  // Path of a stored blob (for tools that want to mmap or copy it).
  std::string PathOf(absl::string_view digest) const;

  // Receives a blob in pieces (a streamed upload) and stores it only if its bytes hash to the
  // announced digest and size.
  class Writer {
   public:
    ~Writer();  // discards an uncommitted upload
    // FailedPrecondition past the announced size.
    absl::Status Append(absl::string_view data);
    // Verifies size and digest, then makes the blob visible. DataLoss on a mismatch (the
    // upload is discarded).
    absl::Status Commit();

   private:
    friend class ArtifactStore;
    Writer(ArtifactStore& store, std::string digest, int64_t size, std::string temp_path, int fd);
    ArtifactStore& store_;
    std::string digest_;
    int64_t size_;
    int64_t written_ = 0;
    std::string temp_path_;
    int fd_;
    Sha256Hasher hasher_;
    bool committed_ = false;
  };
  // A writer for a blob of `size` bytes hashing to `digest`. InvalidArgument for a malformed
  // digest or a negative size. When the blob is already stored the writer still verifies
  // what it is sent, and Commit keeps the stored copy.
  absl::StatusOr<std::unique_ptr<Writer>> NewWriter(absl::string_view digest, int64_t size);

  const std::string& directory() const { return directory_; }

 private:
  explicit ArtifactStore(std::string directory) : directory_(std::move(directory)) {}
  std::string TempPath();
  absl::Status Install(const std::string& temp_path, absl::string_view digest);

  const std::string directory_;
  absl::Mutex mu_;
  uint64_t temp_counter_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace netadapt::common
