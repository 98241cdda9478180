#include "cni/ipam_cli.h"
