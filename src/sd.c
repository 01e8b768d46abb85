/* sd.c: placeholder until the module lands. */
#include "sd.h"
