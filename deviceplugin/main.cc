#include <iostream>

#include "common/flags.h"
#include "deviceplugin/deviceplugin_cli.h"

int main(int argc, char** argv) {
  return enadpdk::common::runCatching(std::cerr, "ena-dpdk-deviceplugin", [&] {
    return enadpdk::deviceplugin::devicepluginMain(argc, argv, std::cout, std::cerr);
  });
}
