#ifndef ECHOD_SD_H
#define ECHOD_SD_H
#endif
