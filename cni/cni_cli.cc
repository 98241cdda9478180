#include "cni/cni_cli.h"
