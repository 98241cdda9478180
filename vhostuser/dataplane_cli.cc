#include "vhostuser/dataplane_cli.h"
