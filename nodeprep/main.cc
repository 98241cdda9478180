#include <cstdlib>
#include <iostream>

#include "common/flags.h"
#include "nodeprep/nodeprep_cli.h"

int main(int argc, char** argv) {
  return enadpdk::common::runCatching(std::cerr, "ena-dpdk-nodeprep", [&] {
    const char* path = std::getenv("PATH");
    return enadpdk::nodeprep::nodeprepMain(
        argc, argv, std::cout, std::cerr,
        enadpdk::nodeprep::hostSeams(path != nullptr ? path : "/usr/sbin:/usr/bin:/sbin:/bin"));
  });
}
