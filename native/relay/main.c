/* berth-relay THREADS [CONNECT_TIMEOUT_MS]: start-up (signals, descriptors, threads) and the main thread's loop: commands on
 * stdin, wakes from the relay threads, the count-report timer. The protocol is described in relay.h. */
#include "relay.h"

int main(int argc, char **argv) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  /* A Ctrl-C reaches the server's whole process group: the server decides when the relay ends (EOF on
   * stdin), as the shim does; only SIGKILL ends it early. */
  signal(SIGPIPE, SIG_IGN);
  signal(SIGINT, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  signal(SIGTERM, SIG_IGN);
  /* Two descriptors a connection: take every descriptor the hard limit allows (as HAProxy does). */
  struct rlimit files;
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  nworkers = argc > 1 ? atoi(argv[1]) : 1;
  if (nworkers < 1) nworkers = 1;
  if (nworkers > MAX_THREADS) nworkers = MAX_THREADS;
  if (argc > 2) connect_timeout_ms = (uint32_t)strtoul(argv[2], NULL, 10);
  main_wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (main_wake < 0 || control_timer_fd() < 0) { perror("berth-relay: eventfd"); return 1; }
  for (int i = 0; i < nworkers; i++) {
    struct worker *w = calloc(1, sizeof *w);
    if (w == NULL || (w->scratch = malloc(SCRATCH_BYTES)) == NULL) { perror("berth-relay"); return 1; }
    pthread_mutex_init(&w->inbox_mu, NULL);
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG_WAKE};
    if (w->ep < 0 || w->wake_fd < 0 || epoll_ctl(w->ep, EPOLL_CTL_ADD, w->wake_fd, &ev) < 0) { perror("berth-relay: epoll"); return 1; }
    workers[i] = w;
    if (pthread_create(&w->thread, NULL, relay_thread, w) != 0) { perror("berth-relay: thread"); return 1; }
  }
  say("R %d", nworkers);
  flush_out();

  static char in[1 << 20];
  size_t in_len = 0;
  struct pollfd fds[3] = {{.fd = 0, .events = POLLIN}, {.fd = main_wake, .events = POLLIN}, {.fd = control_timer_fd(), .events = POLLIN}};
  for (;;) {
    if (poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      perror("berth-relay: poll");
      return 1;
    }
    if (fds[0].revents) {
      ssize_t n = read(0, in + in_len, sizeof in - in_len);
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) return 0;  /* parent gone */
      if (n > 0) in_len += (size_t)n;
      char *start = in, *nl;
      while ((nl = memchr(start, '\n', in_len - (size_t)(start - in))) != NULL) {
        *nl = 0;
        command(start);
        start = nl + 1;
      }
      in_len -= (size_t)(start - in);
      memmove(in, start, in_len);
      if (in_len == sizeof in) { say("E command line too long"); in_len = 0; }
    }
    if (fds[1].revents) control_woken();
    if (fds[2].revents) control_flush_due();
    settle();
    flush_out();
  }
}
