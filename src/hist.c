/* hist.c: placeholder */
