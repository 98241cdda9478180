#include "vhostuser/ctl_cli.h"
