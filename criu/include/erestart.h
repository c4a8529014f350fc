#ifndef CR_ERESTART_H
#define CR_ERESTART_H

/* Kernel-internal syscall restart codes, as seen in %rax of a stopped task. */
#define ERESTARTSYS		512
#define ERESTARTNOINTR		513
#define ERESTARTNOHAND		514
#define ERESTART_RESTARTBLOCK	516

#endif
