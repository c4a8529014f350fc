/* The AES page hash, aesni build (see csum-aes-impl.h). */
#define CSUM_AES_NAME	aesni
#define CSUM_AES_W	128
#include "csum-aes-impl.h"
