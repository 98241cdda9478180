#include "deviceplugin/deviceplugin_cli.h"
