#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace netadapt::common {

// SHA-256 (FIPS 180-4) via OpenSSL's libcrypto. Used to content-address checkpoints and other
// artifacts; the hex form is what `sha256sum` prints.

// Size of a raw digest in bytes.
inline constexpr int kSha256Size = 32;

// The raw 32-byte digest of `data`.
std::string Sha256(absl::string_view data);

// The digest of `data` as 64 lowercase hex digits.
std::string Sha256Hex(absl::string_view data);

// Lowercase hex of arbitrary bytes ("\x01\xab" -> "01ab").
std::string BytesToHex(absl::string_view bytes);

// Incremental SHA-256 for data that arrives in pieces (streamed artifacts). Not thread-safe;
// move-only. Update() after Finish() starts nothing new: call Reset() first.
class Sha256Hasher {
 public:
  Sha256Hasher();
  Sha256Hasher(Sha256Hasher&& other) noexcept;
  Sha256Hasher& operator=(Sha256Hasher&& other) noexcept;
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;
  ~Sha256Hasher();

  void Update(absl::string_view data);
  // The raw 32-byte digest of everything passed to Update() since construction or Reset().
  std::string Finish();
  // Starts a new digest.
  void Reset();

 private:
  void* context_;  // EVP_MD_CTX*, kept out of this header so it need not include OpenSSL.
};

}  // namespace netadapt::common
