#include "common/flags.h"
