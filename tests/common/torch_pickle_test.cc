#include "common/torch_pickle.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "tests/testing/status_matchers.h"

namespace netadapt::common {
namespace {

using ::netadapt::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Kind = PickleValue::Kind;

std::string Bytes(std::initializer_list<int> bytes) {
  std::string out;
  for (int b : bytes) out.push_back(static_cast<char>(b));
  return out;
}

// SHORT_BINUNICODE of `s` (< 256 bytes).
std::string Str(const std::string& s) { return Bytes({0x8c, static_cast<int>(s.size())}) + s; }

// The pickle protocol-2 prefix and the STOP opcode around `body`.
std::string Pickle(const std::string& body) { return Bytes({0x80, 0x02}) + body + "."; }

// The bytes torch.save (protocol 2) writes for one tensor: _rebuild_tensor_v2 over the storage
// ('storage', torch.<storage_class>, key, 'cpu', numel), with the given offset/size/stride.
std::string TensorPickle(const std::string& storage_class, const std::string& key, int numel,
                         int offset, const std::string& size_tuple,
                         const std::string& stride_tuple) {
  return "ctorch._utils\n_rebuild_tensor_v2\n" + Bytes({'('}) +  // callable, MARK args
         Bytes({'('}) + Str("storage") + "ctorch\n" + storage_class + "\n" + Str(key) +
         Str("cpu") + Bytes({'K', numel, 't', 'Q'}) +  // persistent id
         Bytes({'K', offset}) + size_tuple + stride_tuple + Bytes({0x89}) +  // requires_grad
         "ccollections\nOrderedDict\n" + Bytes({')', 'R'}) +                  // hooks
         Bytes({'t', 'R'});
}

TEST(TorchPickleTest, Scalars) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(PickleValue v, ParseTorchPickle(Pickle(Bytes({'K', 7}))));
  EXPECT_EQ(v.kind, Kind::kInt);
  EXPECT_EQ(v.int_value, 7);

  NETADAPT_ASSERT_OK_AND_ASSIGN(v, ParseTorchPickle(Pickle(Bytes({'J', 0xfe, 0xff, 0xff, 0xff}))));
  EXPECT_EQ(v.int_value, -2);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v, ParseTorchPickle(Pickle(Bytes({'M', 0x01, 0x02}))));
  EXPECT_EQ(v.int_value, 0x0201);
  // LONG1: 2**40 and -1.
  NETADAPT_ASSERT_OK_AND_ASSIGN(v, ParseTorchPickle(Pickle(Bytes({0x8a, 6, 0, 0, 0, 0, 0, 1}))));
  EXPECT_EQ(v.int_value, int64_t{1} << 40);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v, ParseTorchPickle(Pickle(Bytes({0x8a, 1, 0xff}))));
  EXPECT_EQ(v.int_value, -1);
  // BINFLOAT 1.5 (big-endian).
  NETADAPT_ASSERT_OK_AND_ASSIGN(
      v, ParseTorchPickle(Pickle(Bytes({'G', 0x3f, 0xf8, 0, 0, 0, 0, 0, 0}))));
  EXPECT_EQ(v.kind, Kind::kFloat);
  EXPECT_EQ(v.float_value, 1.5);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v, ParseTorchPickle(Pickle(Bytes({0x88}))));
  EXPECT_EQ(v.kind, Kind::kBool);
  EXPECT_TRUE(v.bool_value);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v, ParseTorchPickle(Pickle("N")));
  EXPECT_EQ(v.kind, Kind::kNone);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v, ParseTorchPickle(Pickle(Bytes({'X', 2, 0, 0, 0}) + "hi")));
  EXPECT_EQ(v.kind, Kind::kString);
  EXPECT_EQ(v.text, "hi");
}

TEST(TorchPickleTest, ContainersAndMemo) {
  // {'a': (1, 2), 'b': [3, 4]} with the tuple memoised and fetched again as 'c'.
  const std::string body = Bytes({'}', '('}) + Str("a") + Bytes({'K', 1, 'K', 2, 0x86, 'q', 5}) +
                           Str("b") + Bytes({']', '(', 'K', 3, 'K', 4, 'e'}) + Str("c") +
                           Bytes({'h', 5, 'u'});
  NETADAPT_ASSERT_OK_AND_ASSIGN(PickleValue v, ParseTorchPickle(Pickle(body)));
  ASSERT_EQ(v.kind, Kind::kDict);
  ASSERT_EQ(v.entries->size(), 3u);
  const PickleValue* a = v.Find("a");
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(a->kind, Kind::kTuple);
  EXPECT_EQ((*a->items)[1].int_value, 2);
  const PickleValue* b = v.Find("b");
  ASSERT_NE(b, nullptr);
  ASSERT_EQ(b->kind, Kind::kList);
  EXPECT_EQ(b->items->size(), 2u);
  EXPECT_EQ(v.Find("c")->items, a->items);  // the same object
  EXPECT_EQ(v.Find("d"), nullptr);
}

TEST(TorchPickleTest, LaterSetItemReplacesEarlier) {
  const std::string body = Bytes({'}', '('}) + Str("a") + Bytes({'K', 1}) + Str("a") +
                           Bytes({'K', 2, 'u'});
  NETADAPT_ASSERT_OK_AND_ASSIGN(PickleValue v, ParseTorchPickle(Pickle(body)));
  ASSERT_EQ(v.entries->size(), 1u);
  EXPECT_EQ(v.Find("a")->int_value, 2);
}

TEST(TorchPickleTest, StateDictAsTorchSaveWritesIt) {
  // OrderedDict() + SETITEMS of one tensor + BUILD of {'_metadata': ...}, as
  // torch.save(model.state_dict()) writes it (see pickletools.dis of a real file).
  const std::string weight =
      TensorPickle("FloatStorage", "0", 24, 0, Bytes({'K', 2, 'K', 3, 'K', 4, 0x87}),
                   Bytes({'K', 12, 'K', 4, 'K', 1, 0x87}));
  const std::string counter = TensorPickle("LongStorage", "1", 1, 0, ")", ")");
  const std::string body = "ccollections\nOrderedDict\n" + Bytes({'q', 0, ')', 'R', 'q', 1, '('}) +
                           Str("0.weight") + weight + Str("1.num_batches_tracked") + counter +
                           Bytes({'u', '}'}) + Str("_metadata") + Bytes({'}', 's', 'b'});
  NETADAPT_ASSERT_OK_AND_ASSIGN(PickleValue v, ParseTorchPickle(Pickle(body)));
  ASSERT_EQ(v.kind, Kind::kDict);
  ASSERT_EQ(v.entries->size(), 2u);
  EXPECT_EQ((*v.entries)[0].first.text, "0.weight");
  const PickleValue& w = (*v.entries)[0].second;
  ASSERT_EQ(w.kind, Kind::kTensor);
  EXPECT_EQ(w.tensor->storage_key, "0");
  EXPECT_EQ(w.tensor->dtype, PickleDtype::kFloat32);
  EXPECT_EQ(w.tensor->location, "cpu");
  EXPECT_EQ(w.tensor->storage_numel, 24);
  EXPECT_EQ(w.tensor->storage_offset, 0);
  EXPECT_THAT(w.tensor->sizes, ElementsAre(2, 3, 4));
  EXPECT_THAT(w.tensor->strides, ElementsAre(12, 4, 1));
  EXPECT_FALSE(w.tensor->requires_grad);
  const PickleValue& n = (*v.entries)[1].second;
  ASSERT_EQ(n.kind, Kind::kTensor);
  EXPECT_EQ(n.tensor->dtype, PickleDtype::kInt64);
  EXPECT_TRUE(n.tensor->sizes.empty());
}

TEST(TorchPickleTest, OrderedDictFromPairs) {
  const std::string body = "ccollections\nOrderedDict\n" + Bytes({']'}) + Str("x") +
                           Bytes({'K', 1, 0x86, 'a', 0x85, 'R'});
  NETADAPT_ASSERT_OK_AND_ASSIGN(PickleValue v, ParseTorchPickle(Pickle(body)));
  ASSERT_EQ(v.kind, Kind::kDict);
  EXPECT_EQ(v.Find("x")->int_value, 1);
}

TEST(TorchPickleTest, DtypeSizes) {
  EXPECT_EQ(PickleDtypeSize(PickleDtype::kFloat32), 4);
  EXPECT_EQ(PickleDtypeSize(PickleDtype::kInt64), 8);
  EXPECT_EQ(PickleDtypeSize(PickleDtype::kBFloat16), 2);
  EXPECT_EQ(PickleDtypeName(PickleDtype::kFloat64), "float64");
}

TEST(TorchPickleTest, RejectsUnknownGlobals) {
  EXPECT_THAT(ParseTorchPickle(Pickle("cos\nsystem\n")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unsupported global 'os.system'")));
  EXPECT_THAT(ParseTorchPickle(Pickle("c__torch__.Net\nNet\n")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unsupported global")));
  // A storage class is accepted only inside a persistent id, never called.
  EXPECT_THAT(ParseTorchPickle(Pickle("ctorch\nFloatStorage\n)R")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("cannot be called")));
}

TEST(TorchPickleTest, RejectsMalformedInput) {
  const auto invalid = absl::StatusCode::kInvalidArgument;
  EXPECT_THAT(ParseTorchPickle(""), StatusIs(invalid, HasSubstr("truncated")));
  EXPECT_THAT(ParseTorchPickle(Bytes({0x80, 0x02, 'K'})), StatusIs(invalid, HasSubstr("truncated")));
  EXPECT_THAT(ParseTorchPickle(Bytes({0x80, 0x02, 'X', 9, 0, 0, 0, 'a', '.'})),
              StatusIs(invalid, HasSubstr("truncated")));
  EXPECT_THAT(ParseTorchPickle(Pickle("")), StatusIs(invalid, HasSubstr("STOP with 0 values")));
  EXPECT_THAT(ParseTorchPickle(Pickle("NN")), StatusIs(invalid, HasSubstr("STOP with 2 values")));
  EXPECT_THAT(ParseTorchPickle(Pickle("s")), StatusIs(invalid, HasSubstr("underflow")));
  EXPECT_THAT(ParseTorchPickle(Pickle("t")), StatusIs(invalid, HasSubstr("no MARK")));
  EXPECT_THAT(ParseTorchPickle(Pickle(Bytes({'h', 3}))),
              StatusIs(invalid, HasSubstr("memo entry 3")));
  EXPECT_THAT(ParseTorchPickle(Pickle("I1\n")), StatusIs(invalid, HasSubstr("opcode 0x49")));
  EXPECT_THAT(ParseTorchPickle(Bytes({0x80, 0x09, 'N', '.'})),
              StatusIs(invalid, HasSubstr("protocol 9")));
  EXPECT_THAT(ParseTorchPickle(Pickle(Bytes({0x8a, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9}))),
              StatusIs(invalid, HasSubstr("64 bits")));
  // SETITEM on a list, APPEND on a dict, a persistent id that is not a storage.
  EXPECT_THAT(ParseTorchPickle(Pickle(Bytes({']', 'K', 1, 'K', 2, 's'}))),
              StatusIs(invalid, HasSubstr("not a dict")));
  EXPECT_THAT(ParseTorchPickle(Pickle(Bytes({'}', 'K', 1, 'a'}))),
              StatusIs(invalid, HasSubstr("not a list")));
  EXPECT_THAT(ParseTorchPickle(Pickle(Bytes({'K', 1, 'Q'}))),
              StatusIs(invalid, HasSubstr("persistent id")));
  // A MARK hides what is below it: TUPLE1 right after MARK underflows.
  EXPECT_THAT(ParseTorchPickle(Pickle(Bytes({'N', '(', 0x85}))),
              StatusIs(invalid, HasSubstr("underflow")));
}

TEST(TorchPickleTest, RejectsTensorsWithHooksOrBadShapes) {
  // Size and stride of different ranks.
  const std::string bad_rank = TensorPickle("FloatStorage", "0", 4, 0,
                                            Bytes({'K', 4, 0x85}), ")");
  EXPECT_THAT(ParseTorchPickle(Pickle(bad_rank)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("different lengths")));
  const std::string unknown_storage =
      TensorPickle("QuantumStorage", "0", 4, 0, Bytes({'K', 4, 0x85}), Bytes({'K', 1, 0x85}));
  EXPECT_THAT(ParseTorchPickle(Pickle(unknown_storage)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("torch.QuantumStorage")));
}

TEST(TorchPickleTest, EveryPrefixFailsCleanly) {
  const std::string weight =
      TensorPickle("FloatStorage", "0", 24, 0, Bytes({'K', 2, 'K', 3, 'K', 4, 0x87}),
                   Bytes({'K', 12, 'K', 4, 'K', 1, 0x87}));
  const std::string full = Pickle(Bytes({'}'}) + Str("w") + weight + "s");
  ASSERT_TRUE(ParseTorchPickle(full).ok());
  for (size_t n = 0; n < full.size(); ++n) {
    EXPECT_THAT(ParseTorchPickle(full.substr(0, n)), StatusIs(absl::StatusCode::kInvalidArgument))
        << n;
  }
}

// Found by tests/fuzz/torch_pickle_fuzzer (a leak): a list or dict put into itself through the
// memo. Such a result is refused (consumers would walk it forever), and a cycle the result does
// not hold is broken so that it is freed (the fuzzer's LeakSanitizer checks that part).
TEST(TorchPickleTest, ContainersThatContainThemselvesAreRefused) {
  // EMPTY_LIST, BINPUT 0, BINGET 0, APPEND: the list holds itself.
  EXPECT_THAT(ParseTorchPickle(Pickle(Bytes({']', 'q', 0, 'h', 0, 'a'}))),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("contains itself")));
  // EMPTY_DICT, BINPUT 0, BININT1 1, BINGET 0, SETITEM: {1: itself}.
  EXPECT_THAT(ParseTorchPickle(Pickle(Bytes({'}', 'q', 0, 'K', 1, 'h', 0, 's'}))),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("contains itself")));
  // The same list as {1: list}, then replaced: {1: 2} no longer holds it.
  NETADAPT_ASSERT_OK_AND_ASSIGN(
      PickleValue v, ParseTorchPickle(Pickle(Bytes(
                         {'}', 'K', 1, ']', 'q', 0, 'h', 0, 'a', 's', 'K', 1, 'K', 2, 's'}))));
  ASSERT_EQ(v.kind, Kind::kDict);
  ASSERT_EQ(v.entries->size(), 1u);
  EXPECT_EQ(v.entries->front().second.int_value, 2);
  // A container held twice is no cycle: ([], []) with the same list.
  NETADAPT_ASSERT_OK_AND_ASSIGN(v, ParseTorchPickle(Pickle(Bytes({']', 'q', 0, 'h', 0, 0x86}))));
  ASSERT_EQ(v.kind, Kind::kTuple);
  EXPECT_EQ((*v.items)[0].items, (*v.items)[1].items);
}

}  // namespace
}  // namespace netadapt::common
