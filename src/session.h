#ifndef ECHOD_SESSION_H
#define ECHOD_SESSION_H
#endif
