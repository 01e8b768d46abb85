/* session.c: placeholder until the module lands. */
#include "session.h"
