#include "nodeprep/kubelet.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/fake_host.h"

namespace enadpdk::testing {
namespace {

using nodeprep::processStartSeconds;

TEST(KubeletTest, ParsesTheStartTimeAfterTheCommName) {
  // A comm with spaces and parentheses must not shift the fields.
  const std::string stat =
      "4242 (kube let) (x)) S 1 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 12 0 12345 0 0";
  EXPECT_EQ(processStartSeconds(stat, 100), 123.45);
  EXPECT_EQ(processStartSeconds("4242 (kubelet) S 1 2 3", 100), std::nullopt);
  EXPECT_EQ(processStartSeconds("garbage", 100), std::nullopt);
  EXPECT_EQ(processStartSeconds(stat, 0), std::nullopt);
}

TEST(KubeletTest, FindsRunningKubelets) {
  FakeHost host;
  const long ticks = ::sysconf(_SC_CLK_TCK);
  host.writeFile("/proc/17/comm", "containerd\n")
      .writeFile("/proc/17/stat",
                 "17 (containerd) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 10 0 0\n")
      .writeFile("/proc/4242/comm", "kubelet\n")
      .writeFile("/proc/4242/stat", "4242 (kubelet) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 " +
                                        std::to_string(30 * ticks) + " 0 0\n");
  EXPECT_THAT(nodeprep::kubeletStartTimes(host.hostRoot()), ::testing::ElementsAre(30.0));
}

TEST(KubeletTest, ReadsTheBootClock) {
  FakeHost host;
  EXPECT_EQ(nodeprep::readBootClock(host.hostRoot()).uptime, std::nullopt);
  host.writeFile("/proc/uptime", "350.75 700.10\n")
      .writeFile("/proc/sys/kernel/random/boot_id", "abc\n");
  const nodeprep::BootClock clock = nodeprep::readBootClock(host.hostRoot());
  EXPECT_EQ(clock.boot_id, "abc");
  EXPECT_EQ(clock.uptime, 350.75);
}

}  // namespace
}  // namespace enadpdk::testing
