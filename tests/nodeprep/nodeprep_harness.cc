#include "tests/nodeprep/nodeprep_harness.h"

#include <algorithm>

namespace enadpdk::testing {

namespace {

constexpr char kAl2Grub[] =
    "GRUB_TIMEOUT=0\n"
    "GRUB_DEFAULT=\"saved\"\n"
    "GRUB_DISABLE_SUBMENU=\"true\"\n"
    "GRUB_CMDLINE_LINUX_DEFAULT=\"console=tty0 console=ttyS0,115200n8 net.ifnames=0 "
    "biosdevname=0 nvme_core.io_timeout=4294967295 rd.emergency=poweroff rd.shell=0\"\n"
    "GRUB_TERMINAL=\"ttyS0 console\"\n"
    "GRUB_CMDLINE_LINUX=\"selinux=0\"\n";

void buildEc2Base(Harness& h) {
  h.host.setCpuFlags({"fpu", "pse", "tsc", "pdpe1gb", "lm", "avx2"})
      .addNumaNode(0, {})
      .addPciDevice({.address = "0000:00:05.0", .driver = "ena", .netdev = "eth0"})
      .addPciDevice({.address = "0000:00:06.0", .driver = "ena", .netdev = "eth1"})
      .addDefaultRoute("eth0", "10.0.0.1")
      .addRoute({.ifname = "eth0", .destination = "10.0.0.0/24"})
      .addRoute({.ifname = "eth1", .destination = "10.0.0.0/24"});
}

}  // namespace

void buildAl2Node(Harness& h) {
  buildEc2Base(h);
  h.host.writeFile("/etc/default/grub", kAl2Grub)
      .writeFile("/boot/grub2/grub.cfg",
                 "menuentry 'Amazon Linux 2' {\n\tlinux16 /boot/vmlinuz-5.10 root=UUID=1 ro "
                 "selinux=0 console=tty0\n}\n");
  const std::string root = h.host.root().string();
  h.commands.add("grub2-mkconfig",
                 "out=\"\"\n"
                 "while [ $# -gt 0 ]; do [ \"$1\" = -o ] && out=\"$2\"; shift; done\n"
                 "case \"$out\" in '" +
                     root + "'/*) ;; *) out='" + root +
                     "'\"$out\" ;; esac\n"
                     ". '" +
                     root +
                     "/etc/default/grub'\n"
                     "printf \"menuentry 'Amazon Linux 2' {\\n\\tlinux16 /boot/vmlinuz-5.10 "
                     "root=UUID=1 ro %s %s\\n}\\n\" \"$GRUB_CMDLINE_LINUX\" "
                     "\"$GRUB_CMDLINE_LINUX_DEFAULT\" >\"$out\"");
}

void buildAl2023Node(Harness& h) {
  buildEc2Base(h);
  const std::string entry = h.host.root().string() + "/boot/loader/entries/al2023.conf";
  h.host.writeFile("/boot/loader/entries/al2023.conf",
                   "title Amazon Linux 2023\noptions root=UUID=1 ro console=tty0 "
                   "nvme_core.io_timeout=4294967295\n");
  h.commands.add(
      "grubby",
      "entry='" + entry +
          "'\n"
          "cur=$(sed -n 's/^options //p' \"$entry\")\n"
          "case \"$1\" in\n"
          "--info=DEFAULT)\n"
          "  printf 'index=0\\nkernel=\"/boot/vmlinuz-6.1\"\\nargs=\"%s\"\\nroot=\"UUID=1\"\\n' "
          "\"$cur\" ;;\n"
          "--update-kernel=ALL)\n"
          "  case \"$2\" in --remove-args=*)\n"
          "    for c in $cur; do\n"
          "      keep=1; for t in ${2#--remove-args=}; do [ \"$c\" = \"$t\" ] && keep=0; done\n"
          "      [ $keep = 1 ] && out=\"${out:+$out }$c\"\n"
          "    done\n"
          "    printf 'title Amazon Linux 2023\\noptions %s\\n' \"$out\" >\"$entry\"; exit 0 ;;\n"
          "  esac\n"
          "  for t in ${2#--args=}; do\n"
          "    k=${t%%=*}\n"
          "    cur=$(for c in $cur; do [ \"${c%%=*}\" = \"$k\" ] || printf '%s ' \"$c\"; "
          "done)\n"
          "    cur=\"$cur$t\"\n"
          "  done\n"
          "  printf 'title Amazon Linux 2023\\noptions %s\\n' \"$cur\" >\"$entry\" ;;\n"
          "*) echo \"grubby: unexpected $*\" >&2; exit 64 ;;\n"
          "esac");
}

nodeprep::NodeprepConfig issueConfig() {
  return {
      .hugepages = {.pages1G = 4,
                    .pages2M = 0,
                    .perNumaNode = false,
                    .persist = nodeprep::PersistMode::Auto},
      .mounts = {{.path = "/dev/hugepages-1Gi", .pageSize = common::HugepageSize::Size1G},
                 {.path = "/dev/hugepages", .pageSize = common::HugepageSize::Size2M}},
      .vfio = {.noiommu = nodeprep::NoIommuMode::Auto, .driver = "vfio-pci"},
      .bind = {.pciAddresses = {}, .interfaces = {"eth1"}, .allExceptPrimary = false, .force = {}},
      .hostExec = nodeprep::HostExec::Direct,
  };
}

std::vector<nodeprep::ActionStatus> statuses(const nodeprep::Report& report) {
  std::vector<nodeprep::ActionStatus> out;
  for (const nodeprep::Action& a : report.actions) out.push_back(a.status);
  return out;
}

std::vector<nodeprep::Action> actionsOf(const nodeprep::Report& report, std::string_view step) {
  std::vector<nodeprep::Action> out;
  std::copy_if(report.actions.begin(), report.actions.end(), std::back_inserter(out),
               [&](const nodeprep::Action& a) { return a.step == step; });
  return out;
}

}  // namespace enadpdk::testing
