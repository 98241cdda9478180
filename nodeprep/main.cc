#include <iostream>

#include "nodeprep/nodeprep_cli.h"

int main(int argc, char** argv) {
  return enadpdk::nodeprep::nodeprepMain(argc, argv, std::cout, std::cerr);
}
