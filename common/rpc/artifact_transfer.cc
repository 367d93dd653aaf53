#include "common/rpc/artifact_transfer.h"

#include "absl/strings/str_cat.h"
#include "common/failpoint.h"
#include "common/status_macros.h"

namespace netadapt::rpc {
namespace {

absl::Status BrokenStream() {
  return absl::UnavailableError("the artifact stream broke (the peer went away)");
}

// Chunks of `content` starting at `offset` of an artifact of `size` bytes; the first chunk
// names the artifact.
absl::Status SendChunks(absl::string_view digest, int64_t size, int64_t offset,
                        const std::function<absl::StatusOr<std::string>(int64_t)>& read,
                        const ChunkWriter& write) {
  bool first = true;
  do {
    v1::ArtifactChunk chunk;
    if (first) {
      chunk.set_digest(std::string(digest));
      chunk.set_size(size);
    }
    chunk.set_offset(offset);
    NETADAPT_ASSIGN_OR_RETURN(*chunk.mutable_data(), read(offset));
    offset += static_cast<int64_t>(chunk.data().size());
    if (!write(chunk)) return BrokenStream();
    // The fault tests kill a sender here: mid-upload, with the stream still open.
    common::Failpoint("artifact.send.after_chunk");
    first = false;
  } while (offset < size);
  return absl::OkStatus();
}

}  // namespace

absl::Status SendStoredArtifact(const common::ArtifactStore& store, absl::string_view digest,
                                int64_t offset, const ChunkWriter& write) {
  NETADAPT_ASSIGN_OR_RETURN(int64_t size, store.Size(digest));
  if (offset < 0 || offset > size) {
    return absl::OutOfRangeError(
        absl::StrCat("offset: ", offset, " is outside artifact ", digest, " of ", size, " bytes"));
  }
  return SendChunks(
      digest, size, offset,
      [&](int64_t at) { return store.ReadChunk(digest, at, common::kArtifactChunkBytes); }, write);
}

absl::Status SendArtifactBytes(absl::string_view content, const ChunkWriter& write) {
  const int64_t size = static_cast<int64_t>(content.size());
  return SendChunks(
      common::Sha256Hex(content), size, 0,
      [&](int64_t at) -> absl::StatusOr<std::string> {
        return std::string(content.substr(at, common::kArtifactChunkBytes));
      },
      write);
}

absl::Status StoreReceiver::Add(const v1::ArtifactChunk& chunk) {
  if (writer_ == nullptr) {
    if (chunk.size() < 0) {
      return absl::InvalidArgumentError(absl::StrCat("size: ", chunk.size(), " is negative"));
    }
    NETADAPT_RETURN_IF_ERROR(common::ValidateDigest(chunk.digest()));
    if (chunk.offset() != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("offset: an upload starts at 0, not ", chunk.offset()));
    }
    NETADAPT_ASSIGN_OR_RETURN(writer_, store_.NewWriter(chunk.digest(), chunk.size()));
    ref_.set_digest(chunk.digest());
    ref_.set_size(chunk.size());
  } else if (!chunk.digest().empty() && chunk.digest() != ref_.digest()) {
    return absl::InvalidArgumentError("digest: only the first chunk names the artifact");
  }
  if (chunk.offset() != next_offset_) {
    return absl::InvalidArgumentError(absl::StrCat("offset: expected ", next_offset_, ", got ",
                                                   chunk.offset(), " (chunks arrive in order)"));
  }
  NETADAPT_RETURN_IF_ERROR(writer_->Append(chunk.data()));
  next_offset_ += static_cast<int64_t>(chunk.data().size());
  return absl::OkStatus();
}

absl::StatusOr<v1::ArtifactRef> StoreReceiver::Finish() {
  if (writer_ == nullptr) {
    return absl::InvalidArgumentError("the upload sent no chunk (digest and size are required)");
  }
  NETADAPT_RETURN_IF_ERROR(writer_->Commit());
  writer_.reset();
  return ref_;
}

absl::Status BytesReceiver::Add(const v1::ArtifactChunk& chunk) {
  if (size_ < 0) {
    NETADAPT_RETURN_IF_ERROR(common::ValidateDigest(chunk.digest()));
    if (!expected_digest_.empty() && chunk.digest() != expected_digest_) {
      return absl::DataLossError(absl::StrCat("asked for artifact ", expected_digest_,
                                              " but the server sends ", chunk.digest()));
    }
    if (chunk.size() < 0) {
      return absl::InvalidArgumentError(absl::StrCat("size: ", chunk.size(), " is negative"));
    }
    digest_ = chunk.digest();
    size_ = chunk.size();
    content_.reserve(static_cast<size_t>(std::min<int64_t>(size_, int64_t{1} << 32)));
  }
  if (chunk.offset() != static_cast<int64_t>(content_.size())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "offset: expected ", content_.size(), ", got ", chunk.offset()));
  }
  if (static_cast<int64_t>(content_.size() + chunk.data().size()) > size_) {
    return absl::DataLossError(absl::StrCat("artifact ", digest_, ": more than the announced ",
                                            size_, " bytes"));
  }
  content_.append(chunk.data());
  return absl::OkStatus();
}

absl::StatusOr<std::string> BytesReceiver::Finish() {
  if (size_ < 0) return absl::DataLossError("the artifact stream sent no chunk");
  if (static_cast<int64_t>(content_.size()) != size_) {
    return absl::DataLossError(absl::StrCat("artifact ", digest_, ": received ", content_.size(),
                                            " of ", size_, " bytes"));
  }
  if (common::Sha256Hex(content_) != digest_) {
    return absl::DataLossError(
        absl::StrCat("artifact ", digest_, ": the received bytes do not match the digest"));
  }
  return std::move(content_);
}

}  // namespace netadapt::rpc
