#ifndef CR_LSM_H
#define CR_LSM_H

/* --lsm-profile TYPE:NAME: 0 when the tasks can run as asked (criu/base/lsm.c) */
int lsm_opt_profile(const char *arg);
/* --lsm-mount-context CTX */
int lsm_opt_mount_context(const char *arg);
/* Is this --external argument an LSM profile (apparmor:NAME, selinux:LABEL)? */
int lsm_is_arg(const char *arg);

#endif
