#include "common/rpc/artifact_transfer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/testing/status_matchers.h"

namespace netadapt::rpc {
namespace {

using ::netadapt::testing::IsOk;
using ::netadapt::testing::StatusIs;
using ::testing::HasSubstr;

std::unique_ptr<common::ArtifactStore> FreshStore(const std::string& name) {
  const std::string directory = ::testing::TempDir() + "/artifact_transfer_" + name;
  std::filesystem::remove_all(directory);
  auto store = common::ArtifactStore::Open(directory);
  EXPECT_TRUE(store.ok());
  return std::move(store).value();
}

// 2.5 chunks of non-repeating bytes.
std::string Content() {
  std::string content(common::kArtifactChunkBytes * 5 / 2, '\0');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>((i * 7919) >> 3);
  return content;
}

TEST(ArtifactTransferTest, BytesToStoreToBytes) {
  auto store = FreshStore("round_trip");
  const std::string content = Content();
  StoreReceiver upload(*store);
  std::vector<v1::ArtifactChunk> sent;
  ASSERT_THAT(SendArtifactBytes(content,
                                [&](const v1::ArtifactChunk& chunk) {
                                  sent.push_back(chunk);
                                  return upload.Add(chunk).ok();
                                }),
              IsOk());
  ASSERT_EQ(sent.size(), 3u);
  for (const auto& chunk : sent) EXPECT_LE(chunk.data().size(), common::kArtifactChunkBytes);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::ArtifactRef ref, upload.Finish());
  EXPECT_EQ(ref.digest(), common::Sha256Hex(content));
  EXPECT_EQ(ref.size(), static_cast<int64_t>(content.size()));

  BytesReceiver download(ref.digest());
  ASSERT_THAT(SendStoredArtifact(*store, ref.digest(), 0,
                                 [&](const v1::ArtifactChunk& c) { return download.Add(c).ok(); }),
              IsOk());
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string back, download.Finish());
  EXPECT_EQ(back, content);
}

TEST(ArtifactTransferTest, EmptyArtifactIsOneChunk) {
  auto store = FreshStore("empty");
  StoreReceiver upload(*store);
  int chunks = 0;
  ASSERT_THAT(SendArtifactBytes("", [&](const v1::ArtifactChunk& c) {
                ++chunks;
                return upload.Add(c).ok();
              }),
              IsOk());
  EXPECT_EQ(chunks, 1);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::ArtifactRef ref, upload.Finish());
  EXPECT_EQ(ref.size(), 0);
}

TEST(ArtifactTransferTest, ResumesFromAnOffset) {
  auto store = FreshStore("resume");
  const std::string content = Content();
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string digest, store->Put(content));
  std::string tail;
  ASSERT_THAT(SendStoredArtifact(*store, digest, 1000,
                                 [&](const v1::ArtifactChunk& c) {
                                   tail += c.data();
                                   return true;
                                 }),
              IsOk());
  EXPECT_EQ(tail, content.substr(1000));
  EXPECT_THAT(SendStoredArtifact(*store, digest, -1, [](const v1::ArtifactChunk&) { return true; }),
              StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(SendStoredArtifact(*store, std::string(64, 'b'), 0,
                                 [](const v1::ArtifactChunk&) { return true; }),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(SendStoredArtifact(*store, digest, 0, [](const v1::ArtifactChunk&) { return false; }),
              StatusIs(absl::StatusCode::kUnavailable));
}

TEST(ArtifactTransferTest, MalformedUploadsAreRefused) {
  auto store = FreshStore("malformed");
  {
    StoreReceiver upload(*store);
    v1::ArtifactChunk chunk;
    chunk.set_data("no digest");
    EXPECT_THAT(upload.Add(chunk), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("digest")));
  }
  {
    StoreReceiver upload(*store);
    EXPECT_THAT(upload.Finish().status(), StatusIs(absl::StatusCode::kInvalidArgument));
  }
  {
    StoreReceiver upload(*store);
    v1::ArtifactChunk first;
    first.set_digest(common::Sha256Hex("abcdef"));
    first.set_size(6);
    first.set_data("abc");
    ASSERT_THAT(upload.Add(first), IsOk());
    v1::ArtifactChunk gap;
    gap.set_offset(4);
    gap.set_data("ef");
    EXPECT_THAT(upload.Add(gap), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("offset")));
  }
  {
    StoreReceiver upload(*store);
    v1::ArtifactChunk lie;
    lie.set_digest(common::Sha256Hex("truth"));
    lie.set_size(4);
    lie.set_data("lies");
    ASSERT_THAT(upload.Add(lie), IsOk());
    EXPECT_THAT(upload.Finish().status(), StatusIs(absl::StatusCode::kDataLoss));
  }
  EXPECT_FALSE(store->Contains(common::Sha256Hex("truth")));
}

TEST(ArtifactTransferTest, DownloadOfTheWrongArtifactIsDetected) {
  BytesReceiver download(common::Sha256Hex("wanted"));
  v1::ArtifactChunk chunk;
  chunk.set_digest(common::Sha256Hex("other"));
  chunk.set_size(5);
  chunk.set_data("other");
  EXPECT_THAT(download.Add(chunk), StatusIs(absl::StatusCode::kDataLoss));
  BytesReceiver truncated;
  chunk.set_data("oth");
  ASSERT_THAT(truncated.Add(chunk), IsOk());
  EXPECT_THAT(truncated.Finish().status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("received 3 of 5")));
}

}  // namespace
}  // namespace netadapt::rpc
