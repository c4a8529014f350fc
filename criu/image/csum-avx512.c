/* The checksum functions for the avx512 ISA (see csum-impl.h). */
#define CSUM_NAME	avx512
#define XXH_VECTOR	XXH_AVX512
#include "csum-impl.h"
