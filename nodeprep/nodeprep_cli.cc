#include "nodeprep/nodeprep_cli.h"
