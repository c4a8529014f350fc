#include "tcp_in_flight_refuse.c"
