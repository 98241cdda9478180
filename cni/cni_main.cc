#include <iostream>

#include "cni/cni_cli.h"

int main(int argc, char** argv) {
  return enadpdk::cni::cniMain(argc, argv, std::cin, std::cout, std::cerr);
}
