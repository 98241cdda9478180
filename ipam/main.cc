#include <iostream>

#include "ipam/cli.h"

int main(int argc, char** argv) {
  return enadpdk::ipam::ipamMain(argc, argv, std::cin, std::cout, std::cerr);
}
