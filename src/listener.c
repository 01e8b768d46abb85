/* listener.c: placeholder until the module lands. */
#include "listener.h"
