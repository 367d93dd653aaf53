#include "master/job_spec_groups.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "google/protobuf/util/message_differencer.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::master {
namespace {

using ::netadapt::testing::IsOk;
using ::netadapt::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

TEST(JobSpecGroupsTest, GroupedValuesFillTheFlatFields) {
  v1::JobSpec spec;
  spec.mutable_fine_tuning()->set_learning_rate(0.02);
  spec.mutable_fine_tuning()->set_short_term_steps(300);
  spec.mutable_search_options()->set_strategy(v1::SEARCH_STRATEGY_BINARY);
  spec.mutable_search_options()->set_channel_step(4);
  spec.mutable_search_options()->set_certify_tolerance(0);
  spec.set_batch_size(64);  // flat only
  ASSERT_THAT(MergeSpecGroups(spec), IsOk());
  EXPECT_EQ(spec.finetune_lr(), 0.02);
  EXPECT_EQ(spec.short_term_fine_tune_iteration(), 300);
  EXPECT_EQ(spec.search(), v1::SEARCH_STRATEGY_BINARY);
  EXPECT_EQ(spec.channel_step(), 4);
  EXPECT_TRUE(spec.has_certify_tolerance());  // 0 is a value for an optional field
  EXPECT_EQ(spec.certify_tolerance(), 0);
  EXPECT_EQ(spec.batch_size(), 64);

  FillSpecGroups(spec);
  EXPECT_EQ(spec.fine_tuning().batch_size(), 64);
  EXPECT_EQ(spec.fine_tuning().learning_rate(), 0.02);
  EXPECT_EQ(spec.search_options().channel_step(), 4);
  EXPECT_TRUE(spec.search_options().has_certify_tolerance());
}

TEST(JobSpecGroupsTest, TheSameValueTwiceIsFineDifferentValuesNameBothFields) {
  v1::JobSpec spec;
  spec.set_finetune_lr(0.02);
  spec.mutable_fine_tuning()->set_learning_rate(0.02);
  EXPECT_THAT(MergeSpecGroups(spec), IsOk());
  spec.mutable_fine_tuning()->set_learning_rate(0.05);
  EXPECT_THAT(MergeSpecGroups(spec),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("spec.fine_tuning.learning_rate is 0.05"),
                             HasSubstr("spec.finetune_lr is 0.02"))));
  v1::JobSpec search;
  search.set_certify_tolerance(0.03);
  search.mutable_search_options()->set_certify_tolerance(0.01);
  EXPECT_THAT(MergeSpecGroups(search),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("spec.search_options.certify_tolerance")));
}

// A flat spec (every client before the groups) resolves to the same groups as its grouped
// form: the two forms are one spec.
TEST(JobSpecGroupsTest, FlatAndGroupedFormsAreOneSpec) {
  v1::JobSpec flat;
  flat.set_short_term_fine_tune_iteration(200);
  flat.set_finetune_lr(0.01);
  flat.set_momentum(0.8);
  flat.set_weight_decay(5e-4);
  flat.set_batch_size(32);
  flat.set_long_term_fine_tune_epochs(2);
  flat.set_search(v1::SEARCH_STRATEGY_LINEAR);
  flat.set_binary_threshold(8);
  flat.set_channel_step(2);
  v1::JobSpec grouped;
  grouped.mutable_fine_tuning()->set_short_term_steps(200);
  grouped.mutable_fine_tuning()->set_learning_rate(0.01);
  grouped.mutable_fine_tuning()->set_momentum(0.8);
  grouped.mutable_fine_tuning()->set_weight_decay(5e-4);
  grouped.mutable_fine_tuning()->set_batch_size(32);
  grouped.mutable_fine_tuning()->set_long_term_epochs(2);
  grouped.mutable_search_options()->set_strategy(v1::SEARCH_STRATEGY_LINEAR);
  grouped.mutable_search_options()->set_binary_threshold(8);
  grouped.mutable_search_options()->set_channel_step(2);
  for (v1::JobSpec* spec : {&flat, &grouped}) {
    ASSERT_THAT(MergeSpecGroups(*spec), IsOk());
    FillSpecGroups(*spec);
  }
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(flat, grouped))
      << flat.ShortDebugString() << "\n" << grouped.ShortDebugString();
}

}  // namespace
}  // namespace netadapt::master
