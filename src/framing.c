/* framing.c: placeholder until the module lands. */
#include "framing.h"
