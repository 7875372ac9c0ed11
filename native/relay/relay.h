/*
 * berth-relay: the TCP data plane behind service VIPs, node ports, external and load-balancer
 * addresses (docs/proxy.md). One process, N relay threads, each with its own epoll set; listening
 * sockets are shared by every thread (EPOLLEXCLUSIVE, so one accept wakes one thread), and a thread
 * that accepts while it relays HANDOFF_SLACK more connections than the least loaded one hands the new
 * connection to that one.
 *
 *   berth-relay THREADS [CONNECT_TIMEOUT_MS]   (driven by its parent, src/proxy/native-relay.ts, on stdin/stdout;
 *                                              a connect not done within the timeout, 5000 ms by default, 0 none,
 *                                              is given up and tried on another backend)
 *
 * Control protocol, one command a line on stdin (ids are decimal u32 chosen by the parent):
 *   L <id> <host> <port>             open a listening socket (not served before a commit maps it)
 *                                    → "L <id> ok" | "L <id> err <ERRNO-NAME> <message>"
 *   X <id>                           close a listener (after the next commit, see invariants)
 *   S <id> <affinitySeconds> <maxAttempts> [<ip>:<port> | [<ip6>]:<port>]...
 *                                    define or replace a service port's backends; affinitySeconds 0:
 *                                    round robin, else ClientIP affinity with that idle timeout
 *   D <id>                           forget a service port
 *   M <listenerId> <serviceId>       route a listener's connections to a service port
 *   C <seq>                          publish everything above as one table → "A <seq>" once every
 *                                    thread relays with it (and the sockets of closed listeners are closed)
 *   T <seq>                          → "T <seq> <connections of thread 0> <of thread 1>…" 
 * Reports on stdout: "R <threads>" once ready; "N <backend> <count>" when a backend's count of held
 * connections changed (coalesced every 10 ms); "E <message>" for errors worth a log line.
 * The relay exits when stdin reaches EOF (its parent is gone) and dies with its parent (PDEATHSIG);
 * SIGINT, SIGHUP and SIGTERM are ignored (a Ctrl-C reaches the server's whole process group).
 *
 * Per connection (as src/proxy/tcp-relay.ts, the in-process engine): the client is not read before an
 * upstream connected; a refused or failed connect is retried on a backend it has not tried, from the
 * newest table, up to maxAttempts, before the client is reset; the client's bytes are kept (up to 64 KiB) until the first byte of
 * answer, so that an upstream that closes or resets before answering is replaced by another one that
 * gets the same bytes; half-close is forwarded with shutdown(SHUT_WR); no backend → RST at once.
 * A backend's connection is counted from its pick until its upstream socket closes.
 *
 * Invariants: a thread never touches a table after acknowledging a newer one, so a table (and the
 * sockets of listeners it alone had) is freed only when every thread moved past it; connections hold no
 * pointer into a table (a copy of the backend's address, its counter, and the service id).
 *
 * Files: relay.h (types and functions shared by the parts), balance.c (picking backends, counting their
 * connections), conn.c (one relayed connection), thread.c (relay threads: accept, hand-off, tables),
 * control.c (the control protocol and tables, on the main thread), counters.c (the backend counters and
 * their reports), main.c (start-up, main loop).
 */
#ifndef BERTH_RELAY_H
#define BERTH_RELAY_H

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 64
#define MAX_EVENTS 256
#define ACCEPT_BATCH 64
#define SCRATCH_BYTES 65536
#define REPLAY_LIMIT 65536     /* as REPLAY_LIMIT_BYTES in tcp-relay.ts */
#define FLUSH_MS 10            /* count reports are coalesced this long */
#define COUNTER_BUCKETS 4096
#define KEY_LEN 64             /* "[ffff:…]:65535" fits */
#define MAX_TRIES 8            /* a connection tries at most this many backends (maxAttempts is capped here) */
#define HANDOFF_SLACK 4        /* a thread keeps a connection unless it relays this many more than the least loaded */

/* A backend address's count of held connections; lives while a table or a connection refers to it. */
struct counter {
  struct counter *next;     /* registry chain (main thread) */
  atomic_int count;         /* connections holding it (relay threads) */
  int reported;             /* last count written to stdout (main thread) */
  int refs;                 /* definitions and published tables that list it (main thread) */
  char key[KEY_LEN];
};

struct backend {
  struct sockaddr_storage addr;
  socklen_t len;
  uint32_t hash;            /* of the address: what a connection remembers of the backends it tried */
  struct counter *counter;
};

/* ClientIP affinity state of one service port, shared by its tables and threads. */
struct sticky {
  struct sockaddr_storage backend;
  socklen_t backend_len;
  uint64_t last_ms;
  uint8_t client[16];
  uint8_t used;
};

struct affinity {
  pthread_mutex_t mu;
  struct sticky *slots;     /* open addressing, linear probing */
  uint32_t cap, used;
};

/* A service port as one table has it (immutable once published). */
struct service {
  uint32_t id;
  uint32_t nbackends;
  uint32_t max_attempts;
  uint64_t timeout_ms;      /* 0: round robin */
  struct backend *backends;
  atomic_uint *cursor;      /* shared with the definition: round robin survives new tables */
  struct affinity *affinity;
};

struct route {
  uint32_t id;              /* listener id */
  int fd;
  uint32_t service;
};

struct table {
  uint64_t version;
  uint32_t nservices, nroutes;
  struct service *services; /* sorted by id */
  struct route *routes;     /* sorted by id */
};

enum { TAG_HALF = 0, TAG_LISTENER = 1, TAG_WAKE = 2 };

struct conn;

struct half {
  int fd;
  bool readable, writable, hup;
  struct conn *conn;
};

/* One direction's bytes read but not yet written (only after a partial write). */
struct pending {
  char *buf;
  uint32_t off, len;
  bool eof;      /* read 0 from the source */
  bool shut;     /* shutdown(SHUT_WR) sent to the destination */
};

struct conn {
  struct half client, upstream;   /* first: epoll data points at them (8-aligned) */
  struct pending up, down;        /* client → upstream, upstream → client */
  struct sockaddr_storage peer;
  struct sockaddr_storage addr;   /* the upstream's backend */
  socklen_t addr_len;
  struct counter *counter;        /* held while the upstream socket exists */
  char *replay;                   /* client bytes until the first answer byte; NULL when dropped */
  uint32_t replay_len, replay_cap;
  uint32_t service;
  uint32_t attempts;              /* backends tried, their hashes in tried[] */
  uint32_t tried[MAX_TRIES];
  bool connected, answered, replay_off, closed;
  bool connecting;                /* in its thread's connect queue, until connected or given up */
  uint64_t deadline_ms;           /* when a connect in progress is given up (connect_timeout_ms) */
  struct conn *cq_prev, *cq_next;
  struct conn *next_dead;
};

/* A connection accepted by one thread and given to a less loaded one. */
struct handoff {
  struct handoff *next;
  int fd;
  uint32_t service;
  struct sockaddr_storage peer;
};

struct worker {
  pthread_t thread;
  int ep;
  int wake_fd;
  atomic_uint_fast64_t seen;
  atomic_int load;                /* connections this thread relays (and those handed to it) */
  pthread_mutex_t inbox_mu;
  struct handoff *inbox;
  struct table *table;
  struct conn *graveyard;
  struct conn *cq_head, *cq_tail; /* connects in progress, oldest first (one timeout: deadlines in order) */
  char *scratch;
};

/* thread.c: state shared by every thread */
extern _Atomic(struct table *) current_table;
extern int main_wake;               /* eventfd: a thread acknowledged a table or a count changed */
extern atomic_int counts_dirty;
extern struct worker *workers[MAX_THREADS];
extern int nworkers;
void wake(int fd);
const struct service *find_service(const struct table *t, uint32_t id);
void *relay_thread(void *arg);

/* balance.c */
uint64_t now_ms(void);
uint32_t hash_bytes(const uint8_t *p, size_t n);
void hold(struct counter *c);
void release(struct counter *c);
const struct backend *pick(const struct service *s, const struct sockaddr_storage *peer, const uint32_t *done, uint32_t ndone);

/* conn.c */
extern uint32_t connect_timeout_ms;  /* 0: none */
void reset_close(int fd);
int connect_wait_ms(struct worker *w);
void expire_connects(struct worker *w);
void start_conn(struct worker *w, int fd, const struct sockaddr_storage *peer, uint32_t service);
void pump(struct worker *w, struct conn *c);
void finish_connect(struct worker *w, struct conn *c);

/* counters.c */
struct counter *counter_for(const char *key);
void report_counts(void);

/* control.c */
void command(char *line);
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void flush_out(void);
void control_woken(void);
void control_flush_due(void);
void settle(void);
int control_timer_fd(void);

#endif
