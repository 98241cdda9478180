#include <iostream>

#include "tests/tools/kubelet_standin_cli.h"

int main(int argc, char** argv) {
  return enadpdk::testing::standinMain(argc, argv, std::cout, std::cerr);
}
