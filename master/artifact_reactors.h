#pragma once

#include <grpcpp/grpcpp.h>

#include "common/artifact_store.h"
#include "netadapt/v1/artifact.pb.h"

namespace netadapt::master {

// Server reactors for the artifact streams, shared by JobService (users) and
// CoordinatorService (workers). Both delete themselves in OnDone.

// Receives an upload into `store` and answers with its reference (INVALID_ARGUMENT or
// DATA_LOSS when the stream is malformed or the bytes do not match the digest).
grpc::ServerReadReactor<v1::ArtifactChunk>* NewUploadReactor(common::ArtifactStore& store,
                                                             v1::ArtifactRef* response);

// Streams a stored artifact from the request's offset, one chunk in flight at a time.
grpc::ServerWriteReactor<v1::ArtifactChunk>* NewDownloadReactor(
    const common::ArtifactStore& store, const v1::GetArtifactRequest& request);

}  // namespace netadapt::master
