#include "deviceplugin/preferred_allocation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace enadpdk::deviceplugin {
namespace {

using ::testing::ElementsAreArray;

struct Case {
  const char* description;
  std::vector<Candidate> available;
  std::vector<std::string> mustInclude;
  std::size_t size;
  std::vector<std::string> expected;
};

std::vector<Candidate> attachments(const std::string& network, int count, std::optional<int> node) {
  std::vector<Candidate> out;
  for (int i = 0; i < count; ++i) {
    out.push_back({.id = network + "-0" + std::to_string(i), .numaNode = node, .group = network});
  }
  return out;
}

std::vector<Candidate> concat(std::vector<std::vector<Candidate>> parts) {
  std::vector<Candidate> out;
  for (auto& part : parts) out.insert(out.end(), part.begin(), part.end());
  return out;
}

class ChoosePreferredTest : public ::testing::TestWithParam<Case> {};

TEST_P(ChoosePreferredTest, Chooses) {
  const Case& c = GetParam();
  EXPECT_THAT(choosePreferred(c.available, c.mustInclude, c.size), ElementsAreArray(c.expected))
      << c.description;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ChoosePreferredTest,
    ::testing::Values(
        Case{"one network, lowest IDs first",
             attachments("eni1", 4, 0),
             {},
             2,
             {"eni1-00", "eni1-01"}},
        Case{"must_include is honoured and the rest stays on its network",
             concat({attachments("eni1", 4, 0), attachments("eni2", 4, 0)}),
             {"eni2-02"},
             2,
             {"eni2-00", "eni2-02"}},
        Case{"must_include outside the candidates is still included",
             attachments("eni1", 2, 0),
             {"eni9-00"},
             2,
             {"eni1-00", "eni9-00"}},
        Case{"must_include larger than the size wins",
             attachments("eni1", 4, 0),
             {"eni1-03", "eni1-02"},
             1,
             {"eni1-02", "eni1-03"}},
        Case{"a network that fits the request beats splitting one that is larger in total",
             concat({attachments("eni1", 2, 0), attachments("eni2", 2, 0),
                     attachments("eni3", 5, 1)}),
             {},
             3,
             {"eni3-00", "eni3-01", "eni3-02"}},
        Case{"one NUMA node beats one network when no network fits",
             concat({attachments("eni1", 2, 0), attachments("eni2", 2, 0),
                     attachments("eni3", 3, 1)}),
             {},
             4,
             {"eni1-00", "eni1-01", "eni2-00", "eni2-01"}},
        Case{"best fit keeps the larger block whole",
             concat({attachments("eni1", 8, 0), attachments("eni2", 2, 1)}),
             {},
             2,
             {"eni2-00", "eni2-01"}},
        Case{"spills over to a second node only when it must",
             concat({attachments("eni1", 2, 0), attachments("eni2", 1, 1)}),
             {},
             3,
             {"eni1-00", "eni1-01", "eni2-00"}},
        Case{"fewer available than asked returns what there is",
             attachments("eni1", 2, 0),
             {},
             5,
             {"eni1-00", "eni1-01"}},
        Case{
            "devices without NUMA node pack together",
            {{.id = "0000:00:07.0", .numaNode = 0}, {.id = "0000:00:08.0"}, {.id = "0000:00:09.0"}},
            {},
            2,
            {"0000:00:08.0", "0000:00:09.0"}},
        Case{"must_include pulls the rest onto its node",
             {{.id = "node0-0", .numaNode = 0},
              {.id = "node0-1", .numaNode = 0},
              {.id = "node1-0", .numaNode = 1},
              {.id = "node1-1", .numaNode = 1},
              {.id = "node1-2", .numaNode = 1}},
             {"node0-1"},
             2,
             {"node0-0", "node0-1"}},
        Case{"zero size and no must_include is empty", attachments("eni1", 2, 0), {}, 0, {}}));

}  // namespace
}  // namespace enadpdk::deviceplugin
