#ifndef OMEN_CZEROMQ_SHIM_H
#define OMEN_CZEROMQ_SHIM_H
#include <zmq.h>
#include <errno.h>
#endif
