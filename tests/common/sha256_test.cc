#include "common/sha256.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace netadapt::common {
namespace {

// FIPS 180-4 / NIST example vectors.
TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Sha256Hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256Test, RawDigestIs32Bytes) {
  const std::string digest = Sha256("abc");
  ASSERT_EQ(digest.size(), kSha256Size);
  EXPECT_EQ(static_cast<unsigned char>(digest[0]), 0xba);
  EXPECT_EQ(BytesToHex(digest), Sha256Hex("abc"));
}

TEST(Sha256Test, EmbeddedZerosCount) {
  EXPECT_NE(Sha256Hex(std::string("a\0b", 3)), Sha256Hex("ab"));
}

TEST(Sha256Test, IncrementalMatchesOneShot) {
  Sha256Hasher hasher;
  hasher.Update("ab");
  hasher.Update("");
  hasher.Update("c");
  EXPECT_EQ(BytesToHex(hasher.Finish()), Sha256Hex("abc"));
  hasher.Reset();
  hasher.Update("abc");
  Sha256Hasher moved = std::move(hasher);
  EXPECT_EQ(moved.Finish(), Sha256("abc"));
}

TEST(Sha256Test, BytesToHex) {
  EXPECT_EQ(BytesToHex(std::string("\x01\xab\x00\xff", 4)), "01ab00ff");
  EXPECT_EQ(BytesToHex(""), "");
}

}  // namespace
}  // namespace netadapt::common
