#include "nodeprep/kernel_args.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace enadpdk::testing {
namespace {

using nodeprep::editDefaultGrub;
using nodeprep::grubbyArgs;
using nodeprep::hasHugepageArgs;
using nodeprep::hugepageArgs;
using nodeprep::withHugepageArgs;

TEST(KernelArgsTest, Arguments) {
  EXPECT_EQ(hugepageArgs(4), "default_hugepagesz=1G hugepagesz=1G hugepages=4");
}

TEST(KernelArgsTest, HasHugepageArgsWantsExactlyOurs) {
  struct Case {
    std::string cmdline;
    bool expected;
  };
  const Case cases[] = {
      {"ro default_hugepagesz=1G hugepagesz=1G hugepages=4 quiet", true},
      {"hugepages=4 ro hugepagesz=1G default_hugepagesz=1G", true},
      {"ro default_hugepagesz=1G hugepagesz=1G hugepages=3", false},
      {"ro hugepagesz=1G hugepages=4", false},
      {"ro default_hugepagesz=1G hugepagesz=1G hugepages=4 hugepagesz=2M hugepages=64", false},
      {"ro default_hugepagesz=1G hugepagesz=1G hugepages=4 hugepages=4", false},
      {"", false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(hasHugepageArgs(c.cmdline, 4), c.expected) << c.cmdline;
  }
}

TEST(KernelArgsTest, WithHugepageArgsReplacesEarlierValues) {
  struct Case {
    std::string cmdline;
    std::string expected;
  };
  const Case cases[] = {
      {"", "default_hugepagesz=1G hugepagesz=1G hugepages=8"},
      {"selinux=0", "selinux=0 default_hugepagesz=1G hugepagesz=1G hugepages=8"},
      {"ro hugepagesz=2M hugepages=512 quiet",
       "ro quiet default_hugepagesz=1G hugepagesz=1G hugepages=8"},
      {"default_hugepagesz=1G hugepagesz=1G hugepages=2  ro",
       "ro default_hugepagesz=1G hugepagesz=1G hugepages=8"},
      // Arguments that merely start alike are not ours.
      {"hugepages_treat_as_movable=1 transparent_hugepage=never",
       "hugepages_treat_as_movable=1 transparent_hugepage=never default_hugepagesz=1G "
       "hugepagesz=1G hugepages=8"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(withHugepageArgs(c.cmdline, 8), c.expected) << c.cmdline;
  }
}

TEST(KernelArgsTest, EditsGrubCmdlineLinux) {
  struct Case {
    std::string name;
    std::string before;
    std::string after;
  };
  const std::string args = "default_hugepagesz=1G hugepagesz=1G hugepages=4";
  const Case cases[] = {
      {"double quotes", "GRUB_TIMEOUT=0\nGRUB_CMDLINE_LINUX=\"selinux=0\"\nGRUB_X=1\n",
       "GRUB_TIMEOUT=0\nGRUB_CMDLINE_LINUX=\"selinux=0 " + args + "\"\nGRUB_X=1\n"},
      {"single quotes", "GRUB_CMDLINE_LINUX='a b'\n", "GRUB_CMDLINE_LINUX='a b " + args + "'\n"},
      {"unquoted", "GRUB_CMDLINE_LINUX=quiet\n", "GRUB_CMDLINE_LINUX=\"quiet " + args + "\"\n"},
      {"empty", "GRUB_CMDLINE_LINUX=\"\"\n", "GRUB_CMDLINE_LINUX=\"" + args + "\"\n"},
      {"earlier values replaced",
       "GRUB_CMDLINE_LINUX=\"ro hugepagesz=2M hugepages=128 default_hugepagesz=2M quiet\"\n",
       "GRUB_CMDLINE_LINUX=\"ro quiet " + args + "\"\n"},
      {"missing variable", "GRUB_TIMEOUT=0",
       "GRUB_TIMEOUT=0\nGRUB_CMDLINE_LINUX=\"" + args + "\"\n"},
      {"indented, comment after", "  GRUB_CMDLINE_LINUX=\"ro\" # keep\n",
       "  GRUB_CMDLINE_LINUX=\"ro " + args + "\" # keep\n"},
      {"the last assignment wins",
       "GRUB_CMDLINE_LINUX=\"hugepages=2 ro\"\nGRUB_CMDLINE_LINUX=\"$GRUB_CMDLINE_LINUX quiet\"\n",
       "GRUB_CMDLINE_LINUX=\"ro\"\nGRUB_CMDLINE_LINUX=\"$GRUB_CMDLINE_LINUX quiet " + args +
           "\"\n"},
      {"_DEFAULT loses duplicates",
       "GRUB_CMDLINE_LINUX_DEFAULT=\"console=tty0 hugepages=16\"\nGRUB_CMDLINE_LINUX=\"ro\"\n",
       "GRUB_CMDLINE_LINUX_DEFAULT=\"console=tty0\"\nGRUB_CMDLINE_LINUX=\"ro " + args + "\"\n"},
      {"already there",
       "GRUB_CMDLINE_LINUX=\"hugepages=4 ro default_hugepagesz=1G hugepagesz=1G\"\n",
       "GRUB_CMDLINE_LINUX=\"hugepages=4 ro default_hugepagesz=1G hugepagesz=1G\"\n"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string edited = editDefaultGrub(c.before, 4);
    EXPECT_EQ(edited, c.after);
    // Idempotent: editing again changes nothing.
    EXPECT_EQ(editDefaultGrub(edited, 4), edited);
  }
}

TEST(KernelArgsTest, ReadsGrubbyInfo) {
  absl::StatusOr<std::string> args = grubbyArgs(
      "index=0\nkernel=\"/boot/vmlinuz-6.1\"\nargs=\"ro console=tty0 hugepages=4\"\n"
      "root=\"UUID=1\"\n");
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(*args, "ro console=tty0 hugepages=4");
  EXPECT_TRUE(absl::IsInvalidArgument(grubbyArgs("index=0\n").status()));
}

}  // namespace
}  // namespace enadpdk::testing
