/* The checksum functions for the avx2 ISA (see csum-impl.h). */
#define CSUM_NAME	avx2
#define XXH_VECTOR	XXH_AVX2
#include "csum-impl.h"
