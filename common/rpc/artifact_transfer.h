#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/artifact_store.h"
#include "common/sha256.h"
#include "netadapt/v1/artifact.pb.h"

namespace netadapt::rpc {

// Writes one chunk to a gRPC stream; false when the stream is broken (the peer went away).
using ChunkWriter = std::function<bool(const v1::ArtifactChunk&)>;

// Streams stored blob `digest` from `offset` in chunks of common::kArtifactChunkBytes; the
// first chunk carries digest and size. NotFound / InvalidArgument / OutOfRange from the
// store; Unavailable when `write` fails. An empty blob is sent as one empty chunk.
absl::Status SendStoredArtifact(const common::ArtifactStore& store, absl::string_view digest,
                                int64_t offset, const ChunkWriter& write);

// Streams `content` (held in memory) the same way; its digest is computed here.
absl::Status SendArtifactBytes(absl::string_view content, const ChunkWriter& write);

// Receives an upload into a store: Add every chunk in order, then Finish. The first chunk
// must announce digest and size; offsets must follow on. Errors name the field
// (InvalidArgument for a malformed stream, DataLoss when the bytes do not match the digest).
class StoreReceiver {
 public:
  explicit StoreReceiver(common::ArtifactStore& store) : store_(store) {}
  absl::Status Add(const v1::ArtifactChunk& chunk);
  // The stored artifact's reference.
  absl::StatusOr<v1::ArtifactRef> Finish();

 private:
  common::ArtifactStore& store_;
  std::unique_ptr<common::ArtifactStore::Writer> writer_;
  v1::ArtifactRef ref_;
  int64_t next_offset_ = 0;
};

// Receives a download into memory, verifying size and digest in Finish.
class BytesReceiver {
 public:
  // `expected_digest` may be empty to accept what the first chunk announces.
  explicit BytesReceiver(std::string expected_digest = "")
      : expected_digest_(std::move(expected_digest)) {}
  absl::Status Add(const v1::ArtifactChunk& chunk);
  absl::StatusOr<std::string> Finish();

 private:
  std::string expected_digest_;
  std::string digest_;
  int64_t size_ = -1;
  std::string content_;
};

}  // namespace netadapt::rpc
