/*
 * berth-pause: the process of an instance's sandbox container (after Kubernetes' pause, build/pause/linux/pause.c).
 *
 *   berth-pause    (no arguments; built statically, so the image holds this one file: /pause)
 *
 * The sandbox container holds the instance's network namespace and address; the instance's other
 * containers join it (NetworkMode container:<sandbox>), so they outlive one another's restarts and talk
 * over localhost. This program does nothing but stay alive:
 *   - SIGTERM and SIGINT end it with exit status 0 (a stop of the sandbox is a clean exit, not a kill);
 *   - it is PID 1 of its PID namespace, so it reaps zombies: SIGCHLD runs waitpid(-1, WNOHANG) until
 *     no child is left to collect (orphans re-parented to it, if any process ever shares its PID
 *     namespace);
 *   - otherwise it sleeps in pause(); it reads nothing and writes nothing but an error line on stderr.
 * Linked statically (-static, glibc's libc.a) so that the image needs no loader and no libraries.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_stop(int signo) {
  (void)signo;
  _exit(0);
}

static void on_child(int signo) {
  (void)signo;
  int saved = errno;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
  errno = saved;
}

static int handle(int signo, void (*handler)(int)) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = signo == SIGCHLD ? SA_RESTART | SA_NOCLDSTOP : SA_RESTART;
  return sigaction(signo, &sa, NULL);
}

int main(int argc, char **argv) {
  (void)argv;
  if (argc != 1) {
    fprintf(stderr, "berth-pause: takes no arguments\n");
    return 2;
  }
  if (handle(SIGTERM, on_stop) < 0 || handle(SIGINT, on_stop) < 0 || handle(SIGCHLD, on_child) < 0) {
    fprintf(stderr, "berth-pause: sigaction: %s\n", strerror(errno));
    return 1;
  }
  // A signal blocked by whoever started us (docker does not, but a shell might) would never arrive.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  for (;;) pause();
}
