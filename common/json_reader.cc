#include "common/json_reader.h"
