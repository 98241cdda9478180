#include <iostream>

#include "vhostuser/ctl_cli.h"

int main(int argc, char** argv) {
  return enadpdk::vhostuser::ctlMain(argc, argv, std::cout, std::cerr);
}
