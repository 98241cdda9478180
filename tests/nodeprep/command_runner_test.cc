#include "nodeprep/command_runner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/fake_commands.h"

namespace enadpdk::testing {
namespace {

using nodeprep::CommandResult;
using nodeprep::HostCommandRunner;
using nodeprep::HostExec;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

using Argv = std::vector<std::string>;

TEST(CommandRunnerTest, RunsAProgramFromTheSearchPathAndCapturesItsOutput) {
  FakeCommands fakes;
  fakes.add("probe", "echo \"out $1\"; echo \"err $2\" >&2; exit 3");
  HostCommandRunner runner(HostExec::Direct, fakes.path(), common::HostRoot("/"));

  absl::StatusOr<CommandResult> result = runner.run({"probe", "a b", "c"});

  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 3);
  EXPECT_EQ(result->out, "out a b\n");
  EXPECT_EQ(result->err, "err c\n");
  EXPECT_THAT(fakes.invocations(), ElementsAre(Argv{"probe", "a b", "c"}));
}

TEST(CommandRunnerTest, MissingProgramIsNotFound) {
  FakeCommands fakes;
  HostCommandRunner runner(HostExec::Direct, fakes.path(), common::HostRoot("/"));

  absl::StatusOr<CommandResult> result = runner.run({"grubby", "--info=DEFAULT"});

  EXPECT_TRUE(absl::IsNotFound(result.status())) << result.status();
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("grubby"));
}

TEST(CommandRunnerTest, NsenterPrefixesTheCommandAndFindsItOnTheHost) {
  FakeCommands fakes;
  fakes.addNsenter().add("modprobe");
  HostCommandRunner runner(HostExec::Nsenter, fakes.path(), common::HostRoot("/"));

  absl::StatusOr<CommandResult> result = runner.run({"modprobe", "vfio-pci"});

  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 0);
  EXPECT_THAT(fakes.invocations(),
              ElementsAre(Argv{"nsenter", "--mount=/proc/1/ns/mnt", "--uts=/proc/1/ns/uts",
                               "--ipc=/proc/1/ns/ipc", "--net=/proc/1/ns/net", "--", "modprobe",
                               "vfio-pci"},
                          Argv{"modprobe", "vfio-pci"}));
}

TEST(CommandRunnerTest, NsenterFindsTheHostsNamespacesUnderTheHostRoot) {
  // In the DaemonSet: --root /host, the host's procfs at /host/proc, no hostPID.
  HostCommandRunner runner(HostExec::Nsenter, "/usr/bin", common::HostRoot("/host"));
  EXPECT_THAT(runner.commandLine({"systemctl", "reboot"}),
              ElementsAre("nsenter", "--mount=/host/proc/1/ns/mnt", "--uts=/host/proc/1/ns/uts",
                          "--ipc=/host/proc/1/ns/ipc", "--net=/host/proc/1/ns/net", "--",
                          "systemctl", "reboot"));
}

TEST(CommandRunnerTest, NsenterReportsAProgramMissingOnTheHostAsNotFound) {
  FakeCommands fakes;
  fakes.addNsenter();
  HostCommandRunner runner(HostExec::Nsenter, fakes.path(), common::HostRoot("/"));

  absl::StatusOr<CommandResult> result = runner.run({"grubby", "--info=DEFAULT"});

  EXPECT_TRUE(absl::IsNotFound(result.status())) << result.status();
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("not found on the host"));
}

TEST(CommandRunnerTest, MissingNsenterIsNotFound) {
  FakeCommands fakes;
  fakes.add("modprobe");
  HostCommandRunner runner(HostExec::Nsenter, fakes.path(), common::HostRoot("/"));

  absl::StatusOr<CommandResult> result = runner.run({"modprobe", "vfio-pci"});

  EXPECT_TRUE(absl::IsNotFound(result.status())) << result.status();
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("nsenter"));
  EXPECT_TRUE(fakes.invocations().empty());
}

TEST(CommandRunnerTest, CommandPathDependsOnWhereCommandsRun) {
  const common::HostRoot root("/host");
  EXPECT_EQ(HostCommandRunner(HostExec::Direct, "", root).commandPath("/dev/hugepages"),
            "/host/dev/hugepages");
  EXPECT_EQ(HostCommandRunner(HostExec::Nsenter, "", root).commandPath("/dev/hugepages"),
            "/dev/hugepages");
  EXPECT_EQ(
      HostCommandRunner(HostExec::Direct, "", common::HostRoot("/")).commandPath("/dev/hugepages"),
      "/dev/hugepages");
}

TEST(CommandRunnerTest, ReadsOutputLargerThanAPipeBuffer) {
  FakeCommands fakes;
  fakes.add("chatty",
            "head -c 300000 /dev/zero | tr '\\000' a; head -c 200000 /dev/zero | tr '\\000' b >&2");
  HostCommandRunner runner(HostExec::Direct, fakes.path(), common::HostRoot("/"));

  absl::StatusOr<CommandResult> result = runner.run({"chatty"});

  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->out, std::string(300000, 'a'));
  EXPECT_EQ(result->err, std::string(200000, 'b'));
}

TEST(CommandRunnerTest, KillsACommandThatOutlivesTheTimeout) {
  FakeCommands fakes;
  fakes.add("hang", "exec sleep 30");
  HostCommandRunner runner(HostExec::Direct, fakes.path(), common::HostRoot("/"),
                           std::chrono::milliseconds(200));

  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<CommandResult> result = runner.run({"hang"});

  EXPECT_TRUE(absl::IsDeadlineExceeded(result.status())) << result.status();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(CommandRunnerTest, DescribeCommandQuotesArgumentsWithSpaces) {
  EXPECT_EQ(nodeprep::describeCommand({"grubby", "--update-kernel=ALL", "--args=a b"}),
            "grubby --update-kernel=ALL \"--args=a b\"");
}

}  // namespace
}  // namespace enadpdk::testing
