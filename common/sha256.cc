#include "common/sha256.h"

#include <openssl/evp.h>

#include <utility>

#include "common/status_macros.h"

namespace netadapt::common {
namespace {

EVP_MD_CTX* Context(void* context) { return static_cast<EVP_MD_CTX*>(context); }

}  // namespace

std::string Sha256(absl::string_view data) {
  Sha256Hasher hasher;
  hasher.Update(data);
  return hasher.Finish();
}

std::string Sha256Hex(absl::string_view data) { return BytesToHex(Sha256(data)); }

std::string BytesToHex(absl::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    hex.push_back(kDigits[c >> 4]);
    hex.push_back(kDigits[c & 0xF]);
  }
  return hex;
}

Sha256Hasher::Sha256Hasher() : context_(EVP_MD_CTX_new()) {
  // Only fails when out of memory or when libcrypto lacks SHA-256: nothing to recover from.
  NETADAPT_CHECK(context_ != nullptr);
  Reset();
}

Sha256Hasher::Sha256Hasher(Sha256Hasher&& other) noexcept
    : context_(std::exchange(other.context_, nullptr)) {}

Sha256Hasher& Sha256Hasher::operator=(Sha256Hasher&& other) noexcept {
  if (this != &other) {
    EVP_MD_CTX_free(Context(context_));
    context_ = std::exchange(other.context_, nullptr);
  }
  return *this;
}

Sha256Hasher::~Sha256Hasher() { EVP_MD_CTX_free(Context(context_)); }

void Sha256Hasher::Update(absl::string_view data) {
  NETADAPT_CHECK(context_ != nullptr);
  NETADAPT_CHECK(EVP_DigestUpdate(Context(context_), data.data(), data.size()) == 1);
}

std::string Sha256Hasher::Finish() {
  NETADAPT_CHECK(context_ != nullptr);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  NETADAPT_CHECK(EVP_DigestFinal_ex(Context(context_), digest, &size) == 1);
  NETADAPT_CHECK(size == kSha256Size);
  return std::string(reinterpret_cast<const char*>(digest), size);
}

void Sha256Hasher::Reset() {
  NETADAPT_CHECK(context_ != nullptr);
  NETADAPT_CHECK(EVP_DigestInit_ex(Context(context_), EVP_sha256(), nullptr) == 1);
}

}  // namespace netadapt::common
