#include <iostream>

#include "common/flags.h"
#include "vhostuser/ctl_cli.h"

int main(int argc, char** argv) {
  return enadpdk::common::runCatching(std::cerr, "ena-dpdk-ctl", [&] {
    return enadpdk::vhostuser::ctlMain(argc, argv, std::cout, std::cerr);
  });
}
