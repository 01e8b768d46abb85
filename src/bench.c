/* bench.c: placeholder */
