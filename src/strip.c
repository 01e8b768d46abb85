/* strip.c: placeholder until the module lands. */
#include "strip.h"
