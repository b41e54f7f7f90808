/*
 * mdwe PROGRAM [ARGS...]: runs PROGRAM under the seccomp filter systemd installs for
 * MemoryDenyWriteExecute=yes (src/shared/seccomp-util.c seccomp_memory_deny_write_execute), as
 * systemd-udevd.service sets it on Debian 12, so that every RUN program udevd starts inherits it:
 * mmap with PROT_WRITE|PROT_EXEC, and mprotect or pkey_mprotect adding PROT_EXEC, fail with
 * EPERM. (systemd also filters shmat with SHM_EXEC, which Node never calls.) x86-64 only.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PROT_ARG offsetof(struct seccomp_data, args[2]) /* low 32 bits, little-endian */

int main(int argc, char **argv) {
  struct sock_filter filter[] = {
      /* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      /* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      /* 2 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      /* 3 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      /* 4 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mmap, 0, 3),
      /* 5 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, PROT_ARG),
      /* 6 */ BPF_STMT(BPF_ALU | BPF_AND | BPF_K, PROT_WRITE | PROT_EXEC),
      /* 7 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PROT_WRITE | PROT_EXEC, 4, 5),
      /* 8 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mprotect, 1, 0),
      /* 9 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_pkey_mprotect, 0, 3),
      /* 10 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, PROT_ARG),
      /* 11 */ BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, PROT_EXEC, 0, 1),
      /* 12 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      /* 13 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog program = {.len = sizeof(filter) / sizeof(filter[0]), .filter = filter};
  if (argc < 2) {
    fprintf(stderr, "usage: mdwe PROGRAM [ARGS...]\n");
    return 64;
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
    perror("mdwe: seccomp");
    return 70;
  }
  execv(argv[1], argv + 1);
  perror("mdwe: execv");
  return 127;
}
