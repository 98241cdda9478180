#include "common/unix_socket.h"
