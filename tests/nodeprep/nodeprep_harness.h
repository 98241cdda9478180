#pragma once

// Shared by the nodeprep tests: the seams of nodeprep::Nodeprep wired to a FakeHost whose kernel
// reactions a FakeKernel emulates, with recording fake commands on PATH, plus builders for the
// hosts the tests start from.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "nodeprep/command_runner.h"
#include "nodeprep/eni_metadata.h"
#include "nodeprep/interface_addresses.h"
#include "nodeprep/kernel_files.h"
#include "nodeprep/nodeprep.h"
#include "nodeprep/nodeprep_cli.h"
#include "nodeprep/nodeprep_config.h"
#include "nodeprep/report.h"
#include "nodeprep/routing_tables.h"
#include "nodeprep/undo.h"
#include "tests/support/fake_commands.h"
#include "tests/support/fake_host.h"
#include "tests/support/fake_kernel.h"

namespace enadpdk::testing {

// KernelFiles that go through the FakeKernel.
class EmulatedKernelFiles : public nodeprep::KernelFiles {
 public:
  explicit EmulatedKernelFiles(FakeKernel& kernel) : kernel_(kernel) {}
  absl::Status write(std::string_view host_path, std::string_view value) override {
    return kernel_.write(host_path, value);
  }

 private:
  FakeKernel& kernel_;
};

// The real HostCommandRunner (so PATH lookup and the nsenter prefix are the production ones),
// followed by the FakeKernel's reaction to each command that succeeded.
class EmulatedCommandRunner : public nodeprep::CommandRunner {
 public:
  EmulatedCommandRunner(nodeprep::HostExec mode, std::string search_path, common::HostRoot root,
                        FakeKernel& kernel)
      : inner_(mode, std::move(search_path), std::move(root)), kernel_(kernel) {}
  absl::StatusOr<nodeprep::CommandResult> run(const std::vector<std::string>& argv) override {
    absl::StatusOr<nodeprep::CommandResult> result = inner_.run(argv);
    if (result.ok() && result->exit_code == 0) kernel_.commandRan(argv);
    return result;
  }
  std::string commandPath(std::string_view host_path) const override {
    return inner_.commandPath(host_path);
  }

 private:
  nodeprep::HostCommandRunner inner_;
  FakeKernel& kernel_;
};

// Interface addresses from a map the test fills.
class FakeInterfaceAddresses : public nodeprep::InterfaceAddresses {
 public:
  absl::StatusOr<std::map<std::string, std::vector<std::string>>> list() const override {
    return addresses;
  }
  // Interface name -> addresses.
  std::map<std::string, std::vector<std::string>> addresses;
};

// Routing rules and tables from lists the test fills (`ip rule`, `ip route show table all`).
class FakeRoutingTables : public nodeprep::RoutingTables {
 public:
  absl::StatusOr<std::vector<nodeprep::RoutingRule>> rules() const override {
    if (!failure.ok()) return failure;
    return rule_list;
  }
  absl::StatusOr<std::vector<nodeprep::TableRoute>> routes() const override {
    if (!failure.ok()) return failure;
    return route_list;
  }
  // The rules.
  std::vector<nodeprep::RoutingRule> rule_list;
  // The routes of every table.
  std::vector<nodeprep::TableRoute> route_list;
  // Returned by both instead of the lists when not OK.
  absl::Status failure;
};

// A fake host, its kernel, fake commands (modprobe, mount, rmmod and umount record only; the
// FakeKernel does what they would) and interface addresses, ready to run nodeprep on.
class Harness {
 public:
  Harness() {
    commands.add("modprobe");
    commands.add("mount");
    commands.add("rmmod");
    commands.add("umount");
  }

  // Runs nodeprep --undo (undoNodeprep()) with `options` and returns its report.
  nodeprep::Report undo(nodeprep::UndoOptions options = {},
                        nodeprep::HostExec mode = nodeprep::HostExec::Direct) {
    EmulatedCommandRunner runner(mode, commands.path(), host.hostRoot(), kernel);
    EmulatedKernelFiles files(kernel);
    const common::HostRoot root = host.hostRoot();
    return nodeprep::undoNodeprep({.root = root, .commands = runner, .kernel = files},
                                  std::move(options));
  }

  // Runs Nodeprep with `config` and `options` and returns its report.
  nodeprep::Report run(const nodeprep::NodeprepConfig& config,
                       nodeprep::NodeprepOptions options = {}) {
    EmulatedCommandRunner runner(config.hostExec, commands.path(), host.hostRoot(), kernel);
    EmulatedKernelFiles files(kernel);
    // The real metadata client: tests that name ENIs by device index or ENI ID point
    // config.imds at a tests/support/fake_imds.h service.
    nodeprep::ImdsEniMetadata metadata(config.imds);
    nodeprep::Nodeprep nodeprep(config, std::move(options), host.hostRoot(), runner, files,
                                addresses, routing, metadata,
                                std::make_shared<spdlog::logger>("nodeprep-test"));
    return nodeprep.run();
  }

  // Seams for nodeprepMain() that use this harness.
  nodeprep::HostSeams seams() {
    return {
        .commands =
            [this](const common::HostRoot& root, nodeprep::HostExec mode) {
              return std::make_unique<EmulatedCommandRunner>(mode, commands.path(), root, kernel);
            },
        .kernel =
            [this](const common::HostRoot&) {
              return std::make_unique<EmulatedKernelFiles>(kernel);
            },
        .addresses = [this] { return std::make_unique<FakeInterfaceAddresses>(addresses); },
        .routing = [this] { return std::make_unique<FakeRoutingTables>(routing); },
        .metadata =
            [](const nodeprep::ImdsConfig& imds) {
              return std::make_unique<nodeprep::ImdsEniMetadata>(imds);
            },
    };
  }

  // The host tree nodeprep runs on.
  FakeHost host;
  // The commands on nodeprep's PATH (the only PATH entry).
  FakeCommands commands;
  // The kernel's reactions to what nodeprep writes and runs.
  FakeKernel kernel{host};
  // What getifaddrs would say.
  FakeInterfaceAddresses addresses;
  // What rtnetlink would say about rules and routes.
  FakeRoutingTables routing;
};

// An AL2-like node: x86 CPU with pse and pdpe1gb, one NUMA node without hugepages, ENAs
// 0000:00:05.0 (eth0, default route) and 0000:00:06.0 (eth1) on the ena driver without IOMMU,
// /etc/default/grub and /boot/grub2/grub.cfg, and a fake grub2-mkconfig that renders
// GRUB_CMDLINE_LINUX(_DEFAULT) into grub.cfg.
void buildAl2Node(Harness& h);

// An AL2023-like node: as AL2 but without /etc/default/grub; a fake grubby keeps the default
// kernel's arguments in /boot/loader/entries/al2023.conf ("options ..."); it knows --info=DEFAULT,
// and --update-kernel=ALL with --args= or --remove-args=.
void buildAl2023Node(Harness& h);

// The nodeprep config of the issue: 4 1G pages, /dev/hugepages-1Gi and /dev/hugepages mounts,
// vfio-pci with noiommu auto, bind eth1.
nodeprep::NodeprepConfig issueConfig();

// Statuses of the report's actions, for compact assertions.
std::vector<nodeprep::ActionStatus> statuses(const nodeprep::Report& report);

// The actions of one step.
std::vector<nodeprep::Action> actionsOf(const nodeprep::Report& report, std::string_view step);

}  // namespace enadpdk::testing
