#include "common/unix_socket.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "common/slot_dir.h"
#include "tests/support/fake_host.h"

namespace enadpdk::common {
namespace {

// Binds (and optionally listens on) a Unix socket at `path`; returns the fd.
int bindSocket(const std::string& path, bool listen) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0) << path;
  if (listen) {
    EXPECT_EQ(::listen(fd, 1), 0);
  }
  return fd;
}

TEST(CheckSocketPath, Limits) {
  EXPECT_TRUE(checkSocketPath("/" + std::string(106, 'a')).ok());
  absl::Status too_long = checkSocketPath("/" + std::string(107, 'a'), "socket_path");
  EXPECT_EQ(std::string(too_long.message()),
            "socket_path: 108 bytes, longer than the 107 a Unix socket path can have");
  EXPECT_EQ(std::string(checkSocketPath("rel/x.sock", "socket_path").message()),
            "socket_path: \"rel/x.sock\" is not an absolute path");
  EXPECT_EQ(std::string(checkSocketPath("", "socket_path").message()),
            "socket_path: must not be empty");
}

TEST(ParseOwnerAndMode, AcceptsNumbersAndNames) {
  auto root = parseOwner("root");
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root->uid, 0u);
  EXPECT_EQ(root->gid, 0u);
  auto numeric = parseOwner("1000:1001");
  ASSERT_TRUE(numeric.ok());
  EXPECT_EQ(numeric->uid, 1000u);
  EXPECT_EQ(numeric->gid, 1001u);
  for (const char* bad : {"", ":", "1000:", ":5", "a:b:c", "no-such-user-xyz"}) {
    EXPECT_EQ(parseOwner(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(*parseFileMode("0660"), 0660u);
  EXPECT_EQ(*parseFileMode("600"), 0600u);
  for (const char* bad : {"", "0990", "rw", "77777"}) {
    EXPECT_FALSE(parseFileMode(bad).ok()) << bad;
  }
}

TEST(SetFilePermissions, AppliesModeAndOwner) {
  testing::FakeHost host;
  std::string path = (host.root() / "s.sock").string();
  int fd = bindSocket(path, false);
  ASSERT_TRUE(setFilePermissions(path, 0660, "0:0").ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0660u);
  EXPECT_FALSE(setFilePermissions(path, 0660, "nobody-xyz").ok());
  ::close(fd);
}

// The dataplane's client-mode socket (vhostuser/switch.cc: bind, then setFilePermissions with
// the port's mode and owner) in a slot directory with a slot group.
TEST(SetFilePermissions, SocketInAGroupSlotKeepsTheSlotGroup) {
  ASSERT_EQ(::geteuid(), 0u) << "needs root to give directories a group: run the tests as root";
  constexpr gid_t kGroup = 1500;
  testing::FakeHost host;
  const std::filesystem::path slot = host.root() / "eni1-00";
  ASSERT_TRUE(ensureSlotDirectory(slot, kGroup).ok());
  const std::string path = (slot / "vhost.sock").string();
  const mode_t umask = ::umask(022);
  int fd = bindSocket(path, true);
  ::umask(umask);
  ASSERT_TRUE(setFilePermissions(path, 0660, "").ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_gid, kGroup);
  EXPECT_EQ(st.st_mode & 07777, 0660u);
  ::close(fd);
}

TEST(RemoveStaleSocket, RemovesOnlyDeadSockets) {
  testing::FakeHost host;
  std::string live = (host.root() / "live.sock").string();
  std::string dead = (host.root() / "dead.sock").string();
  int live_fd = bindSocket(live, true);
  ::close(bindSocket(dead, true));  // bound then closed: nobody listens any more

  EXPECT_TRUE(removeStaleSocket(dead).ok());
  EXPECT_FALSE(std::filesystem::exists(dead));
  EXPECT_TRUE(removeStaleSocket(dead).ok());  // nothing there

  EXPECT_EQ(removeStaleSocket(live).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(std::filesystem::exists(live));

  std::string file = (host.root() / "plain").string();
  host.writeFile("/plain", "data");
  EXPECT_EQ(removeStaleSocket(file).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(std::filesystem::exists(file));
  ::close(live_fd);
}

TEST(GrpcUnixTarget, Formats) {
  EXPECT_EQ(grpcUnixTarget("/run/ena-dpdk/dataplane.sock"), "unix:/run/ena-dpdk/dataplane.sock");
}

}  // namespace
}  // namespace enadpdk::common
