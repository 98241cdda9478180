#include <iostream>

#include "common/flags.h"
#include "vhostuser/dataplane_cli.h"

int main(int argc, char** argv) {
  return enadpdk::common::runCatching(std::cerr, "ena-dpdk-dataplane", [&] {
    return enadpdk::vhostuser::dataplaneMain(argc, argv, std::cout, std::cerr);
  });
}
