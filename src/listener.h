#ifndef ECHOD_LISTENER_H
#define ECHOD_LISTENER_H
#endif
