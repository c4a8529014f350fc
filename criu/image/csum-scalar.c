/* The checksum functions for the scalar ISA (see csum-impl.h). */
#define CSUM_NAME	scalar
#define XXH_VECTOR	XXH_SCALAR
#include "csum-impl.h"
