#include "common/pci.h"
