#include "common/torch/device.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/torch/internal/torch_device.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::engine {
namespace {

using ::netadapt::testing::IsOk;
using ::netadapt::testing::StatusIs;
using ::testing::HasSubstr;

TEST(DeviceTest, CpuIsAlwaysAvailable) {
  EXPECT_THAT(CheckDevice("cpu"), IsOk());
  NETADAPT_ASSERT_OK_AND_ASSIGN(c10::Device device, internal::ParseDevice("cpu"));
  EXPECT_TRUE(device.is_cpu());
}

TEST(DeviceTest, MalformedStringsNameTheField) {
  EXPECT_THAT(CheckDevice("gpu0"), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("device")));
  EXPECT_THAT(CheckDevice("cuda:"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(CheckDevice("cuda:x"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(CheckDevice("cuda:-1"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(DeviceTest, CudaFollowsWhatThisBuildSees) {
  if (CudaDeviceCount() == 0) {
    EXPECT_THAT(CheckDevice("cuda:0"), StatusIs(absl::StatusCode::kFailedPrecondition,
                                                 HasSubstr("no usable CUDA")));
  } else {
    EXPECT_THAT(CheckDevice("cuda:0"), IsOk());
    EXPECT_THAT(CheckDevice("cuda:255"), StatusIs(absl::StatusCode::kFailedPrecondition));
  }
}

TEST(DeviceTest, BuildDescriptionNamesTheVersion) {
  EXPECT_THAT(TorchBuildDescription(), HasSubstr("libtorch "));
}

}  // namespace
}  // namespace netadapt::engine
