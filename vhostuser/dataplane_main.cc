#include <iostream>

#include "vhostuser/dataplane_cli.h"

int main(int argc, char** argv) {
  return enadpdk::vhostuser::dataplaneMain(argc, argv, std::cout, std::cerr);
}
