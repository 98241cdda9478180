#include <iostream>

#include "deviceplugin/deviceplugin_cli.h"

int main(int argc, char** argv) {
  return enadpdk::deviceplugin::devicepluginMain(argc, argv, std::cout, std::cerr);
}
