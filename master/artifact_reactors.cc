#include "master/artifact_reactors.h"

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/rpc/artifact_transfer.h"
#include "common/rpc/grpc_status.h"

namespace netadapt::master {
namespace {

class UploadReactor final : public grpc::ServerReadReactor<v1::ArtifactChunk> {
 public:
  UploadReactor(common::ArtifactStore& store, v1::ArtifactRef* response)
      : receiver_(store), response_(response) {
    StartRead(&chunk_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client finished sending (or went away: Finish is then ignored)
      absl::StatusOr<v1::ArtifactRef> ref = receiver_.Finish();
      if (ref.ok()) *response_ = *ref;
      Finish(rpc::ToGrpcStatus(ref.status()));
      return;
    }
    if (absl::Status status = receiver_.Add(chunk_); !status.ok()) {
      Finish(rpc::ToGrpcStatus(status));
      return;
    }
    StartRead(&chunk_);
  }
  void OnDone() override { delete this; }

 private:
  rpc::StoreReceiver receiver_;
  v1::ArtifactRef* response_;
  v1::ArtifactChunk chunk_;
};

class DownloadReactor final : public grpc::ServerWriteReactor<v1::ArtifactChunk> {
 public:
  DownloadReactor(const common::ArtifactStore& store, const v1::GetArtifactRequest& request)
      : store_(store), digest_(request.digest()), offset_(request.offset()) {
    absl::Status status = common::ValidateDigest(digest_);
    absl::StatusOr<int64_t> size = status.ok() ? store_.Size(digest_) : status;
    if (!size.ok()) {
      Finish(rpc::ToGrpcStatus(size.status()));
      return;
    }
    size_ = *size;
    if (offset_ < 0 || offset_ > size_) {
      Finish(rpc::ToGrpcStatus(absl::OutOfRangeError(
          absl::StrCat("offset: ", offset_, " is outside artifact ", digest_, " of ", size_,
                       " bytes"))));
      return;
    }
    first_ = true;
    Next();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the client went away"));
      return;
    }
    if (offset_ >= size_) {
      Finish(grpc::Status::OK);
      return;
    }
    Next();
  }
  void OnDone() override { delete this; }

 private:
  void Next() {
    absl::StatusOr<std::string> data =
        store_.ReadChunk(digest_, offset_, common::kArtifactChunkBytes);
    if (!data.ok()) {
      Finish(rpc::ToGrpcStatus(data.status()));
      return;
    }
    chunk_.Clear();
    if (first_) {
      chunk_.set_digest(digest_);
      chunk_.set_size(size_);
      first_ = false;
    }
    chunk_.set_offset(offset_);
    offset_ += static_cast<int64_t>(data->size());
    *chunk_.mutable_data() = *std::move(data);
    StartWrite(&chunk_);
  }

  const common::ArtifactStore& store_;
  const std::string digest_;
  int64_t offset_;
  int64_t size_ = 0;
  bool first_ = true;
  v1::ArtifactChunk chunk_;
};

}  // namespace

grpc::ServerReadReactor<v1::ArtifactChunk>* NewUploadReactor(common::ArtifactStore& store,
                                                             v1::ArtifactRef* response) {
  return new UploadReactor(store, response);
}

grpc::ServerWriteReactor<v1::ArtifactChunk>* NewDownloadReactor(
    const common::ArtifactStore& store, const v1::GetArtifactRequest& request) {
  return new DownloadReactor(store, request);
}

}  // namespace netadapt::master
