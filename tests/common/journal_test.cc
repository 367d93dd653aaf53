#include "common/journal.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/crc32c.h"
#include "common/file_util.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::common {
namespace {

using ::netadapt::testing::IsOk;
using ::netadapt::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

class JournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           absl::StrCat("journal_test_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    ASSERT_TRUE(std::filesystem::create_directories(dir_));
    path_ = (dir_ / "journal.log").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Writes `payloads` through a JournalWriter and returns the file's bytes.
  std::string WriteRecords(const std::vector<std::string>& payloads) {
    absl::StatusOr<std::unique_ptr<JournalWriter>> writer = JournalWriter::Open(path_, 0);
    EXPECT_THAT(writer, IsOk());
    for (const std::string& payload : payloads) EXPECT_THAT((*writer)->Append(payload), IsOk());
    return *ReadFile(path_);
  }

  std::filesystem::path dir_;
  std::string path_;
};

const std::vector<std::string> kPayloads = {"first", "", std::string(300, 'x'), "last one"};

TEST_F(JournalTest, RoundTrip) {
  const std::string bytes = WriteRecords(kPayloads);
  NETADAPT_ASSERT_OK_AND_ASSIGN(JournalContents contents, ReadJournal(path_));
  EXPECT_THAT(contents.records, ElementsAreArray(kPayloads));
  EXPECT_THAT(contents.corruption, IsOk());
  EXPECT_EQ(contents.torn_bytes, 0);
  EXPECT_EQ(contents.valid_bytes, static_cast<int64_t>(bytes.size()));
  EXPECT_THAT(contents.offsets, ElementsAre(0, 16 + 5, 16 + 5 + 16, 16 + 5 + 16 + 16 + 300));
}

TEST_F(JournalTest, MissingFileIsEmpty) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(JournalContents contents, ReadJournal(path_));
  EXPECT_TRUE(contents.records.empty());
  EXPECT_THAT(contents.corruption, IsOk());
}

// The master died mid-append: whatever prefix of the last record reached the disk, the
// earlier records are kept and the rest is reported torn, not corrupt.
TEST_F(JournalTest, TornTailAtEveryByteOfTheLastRecordIsDropped) {
  const std::string bytes = WriteRecords(kPayloads);
  const size_t last = bytes.size() - EncodeJournalRecord(kPayloads.back()).size();
  for (size_t cut = last; cut < bytes.size(); ++cut) {
    SCOPED_TRACE(absl::StrCat("cut at ", cut));
    const JournalContents contents = ParseJournal(bytes.substr(0, cut), "j");
    EXPECT_THAT(contents.corruption, IsOk());
    EXPECT_THAT(contents.records,
                ElementsAreArray(kPayloads.begin(), kPayloads.end() - 1));
    EXPECT_EQ(contents.valid_bytes, static_cast<int64_t>(last));
    EXPECT_EQ(contents.torn_bytes, static_cast<int64_t>(cut - last));
  }
}

TEST_F(JournalTest, ZerosAfterTheLastRecordAreATornTail) {
  const std::string bytes = WriteRecords(kPayloads) + std::string(4096, '\0');
  const JournalContents contents = ParseJournal(bytes, "j");
  EXPECT_THAT(contents.corruption, IsOk());
  EXPECT_THAT(contents.records, ElementsAreArray(kPayloads));
  EXPECT_EQ(contents.torn_bytes, 4096);
}

// Any single flipped byte of a record with more records after it is corruption, reported at
// that record's offset, and the records before it are kept.
TEST_F(JournalTest, AFlippedByteInAMiddleRecordIsDataLossAtItsOffset) {
  const std::string bytes = WriteRecords(kPayloads);
  const size_t begin = 16 + 5 + 16;  // the third record
  const size_t end = begin + 16 + 300;
  for (size_t i = begin; i < end; ++i) {
    SCOPED_TRACE(absl::StrCat("byte ", i));
    std::string damaged = bytes;
    damaged[i] ^= 0x5A;
    const JournalContents contents = ParseJournal(damaged, "/state/journal.log");
    EXPECT_THAT(contents.corruption,
                StatusIs(absl::StatusCode::kDataLoss,
                         AllOf(HasSubstr("/state/journal.log"),
                               HasSubstr(absl::StrCat("offset ", begin)))));
    EXPECT_THAT(contents.records, ElementsAre("first", ""));
    EXPECT_EQ(contents.valid_bytes, static_cast<int64_t>(begin));
  }
}

TEST_F(JournalTest, AFlippedByteInTheCompleteLastRecordIsDataLoss) {
  std::string bytes = WriteRecords(kPayloads);
  bytes[bytes.size() - 1] ^= 1;
  const JournalContents contents = ParseJournal(bytes, "j");
  EXPECT_THAT(contents.corruption, StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_EQ(contents.records.size(), kPayloads.size() - 1);
}

TEST_F(JournalTest, GarbageFollowedByMoreDataIsDataLoss) {
  const std::string first = EncodeJournalRecord("a");
  const std::string bytes = first + "garbage, not a record at all" + EncodeJournalRecord("b");
  const JournalContents contents = ParseJournal(bytes, "j");
  EXPECT_THAT(contents.corruption,
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr(absl::StrCat("offset ", first.size()))));
  EXPECT_THAT(contents.records, ElementsAre("a"));
}

// A header whose CRC checks but whose length is absurd: refused, nothing allocated for it.
TEST_F(JournalTest, HugeLengthFieldIsDataLoss) {
  std::string record = EncodeJournalRecord("abc");
  // length = 0xFFFFFFFF, with the header CRC recomputed so only the bound catches it.
  for (int i = 4; i < 8; ++i) record[i] = '\xFF';
  const uint32_t crc = Crc32c(absl::string_view(record.data(), 12));
  for (int i = 0; i < 4; ++i) record[12 + i] = static_cast<char>((crc >> (8 * i)) & 0xFF);
  const JournalContents contents = ParseJournal(EncodeJournalRecord("ok") + record, "j");
  EXPECT_THAT(contents.corruption,
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("exceeds the limit")));
  EXPECT_THAT(contents.records, ElementsAre("ok"));

  // Without a valid header CRC, a huge length is a header mismatch: still DataLoss.
  std::string unchecked = EncodeJournalRecord("abc") + EncodeJournalRecord("d");
  for (int i = 4; i < 8; ++i) unchecked[i] = '\x7F';
  EXPECT_THAT(ParseJournal(unchecked, "j").corruption, StatusIs(absl::StatusCode::kDataLoss));
}

// After a torn tail, the writer opened at the valid end cuts it off, and the next records
// follow the valid ones.
TEST_F(JournalTest, AppendAfterTornTail) {
  const std::string bytes = WriteRecords({"a", "b", "c"});
  ASSERT_THAT(WriteFileAtomically(path_, bytes.substr(0, bytes.size() - 2)), IsOk());
  NETADAPT_ASSERT_OK_AND_ASSIGN(JournalContents torn, ReadJournal(path_));
  ASSERT_THAT(torn.corruption, IsOk());
  ASSERT_GT(torn.torn_bytes, 0);
  {
    NETADAPT_ASSERT_OK_AND_ASSIGN(auto writer, JournalWriter::Open(path_, torn.valid_bytes));
    EXPECT_EQ(writer->size(), torn.valid_bytes);
    ASSERT_THAT(writer->Append("d"), IsOk());
  }
  NETADAPT_ASSERT_OK_AND_ASSIGN(JournalContents contents, ReadJournal(path_));
  EXPECT_THAT(contents.corruption, IsOk());
  EXPECT_EQ(contents.torn_bytes, 0);
  EXPECT_THAT(contents.records, ElementsAre("a", "b", "d"));
}

TEST_F(JournalTest, ResetEmptiesTheFile) {
  WriteRecords({"a", "b"});
  NETADAPT_ASSERT_OK_AND_ASSIGN(JournalContents before, ReadJournal(path_));
  NETADAPT_ASSERT_OK_AND_ASSIGN(auto writer, JournalWriter::Open(path_, before.valid_bytes));
  ASSERT_THAT(writer->Reset(), IsOk());
  ASSERT_THAT(writer->Append("c"), IsOk());
  NETADAPT_ASSERT_OK_AND_ASSIGN(JournalContents after, ReadJournal(path_));
  EXPECT_THAT(after.records, ElementsAre("c"));
}

// /dev/full answers every write with ENOSPC: the real errno path of a full disk.
TEST_F(JournalTest, FullDiskIsResourceExhaustedNamingThePath) {
  if (!std::filesystem::exists("/dev/full")) {
    GTEST_SKIP() << "no /dev/full on this system";  // Linux always has it; CI runs Linux
  }
  NETADAPT_ASSERT_OK_AND_ASSIGN(auto writer, JournalWriter::Open("/dev/full", 0));
  EXPECT_THAT(writer->Append("record"),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       AllOf(HasSubstr("/dev/full"), HasSubstr("no space left on device"))));
  EXPECT_EQ(writer->size(), 0);
}

TEST_F(JournalTest, OversizedPayloadIsRefused) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(auto writer, JournalWriter::Open(path_, 0));
  EXPECT_THAT(writer->Append(std::string(kMaxJournalRecordBytes + 1, 'x')),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(writer->size(), 0);
}

TEST_F(JournalTest, SingleRecordFiles) {
  EXPECT_THAT(ParseSingleRecord(EncodeJournalRecord("snap"), "s"), IsOk());
  EXPECT_EQ(*ParseSingleRecord(EncodeJournalRecord("snap"), "s"), "snap");
  const std::string record = EncodeJournalRecord("snap");
  EXPECT_THAT(ParseSingleRecord(record.substr(0, record.size() - 1), "/s/snapshot.pb"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("/s/snapshot.pb")));
  EXPECT_THAT(ParseSingleRecord(record + record, "s"), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(ParseSingleRecord("", "s"), StatusIs(absl::StatusCode::kDataLoss));
}

}  // namespace
}  // namespace netadapt::common
