/*
 * berth-relay: the TCP data plane behind service VIPs, node ports, external and load-balancer
 * addresses (docs/proxy.md). One process, N relay threads, each with its own epoll set; listening
 * sockets are shared by every thread (EPOLLEXCLUSIVE, so one accept wakes one thread), and a thread
 * that accepts while it relays HANDOFF_SLACK more connections than the least loaded one hands the new
 * connection to that one.
 *
 *   berth-relay THREADS        (driven by its parent, src/proxy/native-relay.ts, on stdin/stdout)
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
 */
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

/* ---------------------------------------------------------------- shared state */

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

static _Atomic(struct table *) current_table;
static int main_wake;               /* eventfd: a thread acknowledged a table or a count changed */
static atomic_int counts_dirty;

struct worker;
static struct worker *workers[MAX_THREADS];
static int nworkers;

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void wake(int fd) {
  uint64_t one = 1;
  while (write(fd, &one, sizeof one) < 0 && errno == EINTR) {}
}

static void count_changed(void) {
  if (atomic_exchange_explicit(&counts_dirty, 1, memory_order_acq_rel) == 0) wake(main_wake);
}

static void hold(struct counter *c) {
  atomic_fetch_add_explicit(&c->count, 1, memory_order_relaxed);
  count_changed();
}

static void release(struct counter *c) {
  atomic_fetch_sub_explicit(&c->count, 1, memory_order_relaxed);
  count_changed();
}

static bool same_addr(const struct sockaddr_storage *a, socklen_t alen, const struct sockaddr_storage *b, socklen_t blen) {
  return alen == blen && memcmp(a, b, alen) == 0;
}

/* ---------------------------------------------------------------- balancing */

static uint32_t hash_bytes(const uint8_t *p, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
  return h;
}

static void client_ip(const struct sockaddr_storage *peer, uint8_t out[16]) {
  memset(out, 0, 16);
  if (peer->ss_family == AF_INET) memcpy(out, &((const struct sockaddr_in *)peer)->sin_addr, 4);
  else if (peer->ss_family == AF_INET6) memcpy(out, &((const struct sockaddr_in6 *)peer)->sin6_addr, 16);
}

static bool tried(const uint32_t *tried, uint32_t ntried, uint32_t hash) {
  for (uint32_t i = 0; i < ntried; i++)
    if (tried[i] == hash) return true;
  return false;
}

/* The next backend in round-robin order that this connection has not tried yet (NULL: none left). */
static const struct backend *round_robin(const struct service *s, const uint32_t *done, uint32_t ndone) {
  uint32_t n = s->nbackends;
  for (uint32_t k = 0; k < n; k++) {
    const struct backend *b = &s->backends[atomic_fetch_add_explicit(s->cursor, 1, memory_order_relaxed) % n];
    if (!tried(done, ndone, b->hash)) return b;
  }
  return NULL;
}

static const struct backend *find_backend(const struct service *s, const struct sockaddr_storage *addr, socklen_t len) {
  for (uint32_t i = 0; i < s->nbackends; i++)
    if (same_addr(&s->backends[i].addr, s->backends[i].len, addr, len)) return &s->backends[i];
  return NULL;
}

/* Drops expired entries and entries of backends the service no longer has (rehash into the same size). */
static void affinity_prune(struct affinity *a, const struct service *s, uint64_t now) {
  struct sticky *old = a->slots;
  a->slots = calloc(a->cap, sizeof *a->slots);
  if (a->slots == NULL) { a->slots = old; return; }
  a->used = 0;
  for (uint32_t i = 0; i < a->cap; i++) {
    struct sticky *e = &old[i];
    if (!e->used || now - e->last_ms >= s->timeout_ms || find_backend(s, &e->backend, e->backend_len) == NULL) continue;
    uint32_t j = hash_bytes(e->client, 16) & (a->cap - 1);
    while (a->slots[j].used) j = (j + 1) & (a->cap - 1);
    a->slots[j] = *e;
    a->used++;
  }
  free(old);
}

static struct sticky *affinity_slot(struct affinity *a, const struct service *s, const uint8_t ip[16], uint64_t now) {
  if (a->used * 4 >= a->cap * 3) {
    affinity_prune(a, s, now);
    if (a->used * 2 >= a->cap) {  /* still half full: grow */
      struct sticky *old = a->slots;
      uint32_t cap = a->cap * 2;
      struct sticky *slots = calloc(cap, sizeof *slots);
      if (slots != NULL) {
        for (uint32_t i = 0; i < a->cap; i++) {
          if (!old[i].used) continue;
          uint32_t j = hash_bytes(old[i].client, 16) & (cap - 1);
          while (slots[j].used) j = (j + 1) & (cap - 1);
          slots[j] = old[i];
        }
        a->slots = slots;
        a->cap = cap;
        free(old);
      }
    }
  }
  uint32_t j = hash_bytes(ip, 16) & (a->cap - 1);
  while (a->slots[j].used && memcmp(a->slots[j].client, ip, 16) != 0) j = (j + 1) & (a->cap - 1);
  return &a->slots[j];
}

/*
 * The backend for a new connection, or for its next attempt, among those it has not tried (`done`,
 * address hashes): round robin, or with ClientIP affinity the client's previous backend while the
 * service still has it, it was used within the timeout and this connection has not tried it (else the
 * entry moves to the round-robin pick). NULL when no untried backend is left.
 */
static const struct backend *pick(const struct service *s, const struct sockaddr_storage *peer, const uint32_t *done, uint32_t ndone) {
  if (s == NULL || s->nbackends == 0) return NULL;
  if (s->timeout_ms == 0) return round_robin(s, done, ndone);
  uint8_t ip[16];
  client_ip(peer, ip);
  uint64_t now = now_ms();
  struct affinity *a = s->affinity;
  pthread_mutex_lock(&a->mu);
  struct sticky *e = affinity_slot(a, s, ip, now);
  const struct backend *b = NULL;
  if (e->used && now - e->last_ms < s->timeout_ms) {
    b = find_backend(s, &e->backend, e->backend_len);
    if (b != NULL && tried(done, ndone, b->hash)) b = NULL;
  }
  if (b == NULL) {
    b = round_robin(s, done, ndone);
    if (b != NULL) {
      if (!e->used) {
        e->used = 1;
        memcpy(e->client, ip, 16);
        a->used++;
      }
      e->backend = b->addr;
      e->backend_len = b->len;
    }
  }
  if (b != NULL) e->last_ms = now;
  pthread_mutex_unlock(&a->mu);
  return b;
}

/* ---------------------------------------------------------------- relay threads */

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
  char *scratch;
};

static const struct route *find_route(const struct table *t, uint32_t id) {
  uint32_t lo = 0, hi = t->nroutes;
  while (lo < hi) {
    uint32_t mid = (lo + hi) / 2;
    if (t->routes[mid].id == id) return &t->routes[mid];
    if (t->routes[mid].id < id) lo = mid + 1; else hi = mid;
  }
  return NULL;
}

static const struct service *find_service(const struct table *t, uint32_t id) {
  uint32_t lo = 0, hi = t->nservices;
  while (lo < hi) {
    uint32_t mid = (lo + hi) / 2;
    if (t->services[mid].id == id) return &t->services[mid];
    if (t->services[mid].id < id) lo = mid + 1; else hi = mid;
  }
  return NULL;
}

static void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Closes with RST (SO_LINGER 0), as node's resetAndDestroy(). */
static void reset_close(int fd) {
  struct linger l = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(fd);
}

static void drop_upstream(struct conn *c) {
  if (c->upstream.fd >= 0) close(c->upstream.fd);
  c->upstream.fd = -1;
  if (c->counter != NULL) release(c->counter);
  c->counter = NULL;
  c->connected = false;
}

static void conn_close(struct worker *w, struct conn *c, bool reset_client) {
  if (c->closed) return;
  c->closed = true;
  drop_upstream(c);
  if (reset_client) reset_close(c->client.fd);
  else close(c->client.fd);
  free(c->up.buf);
  free(c->down.buf);
  free(c->replay);
  c->next_dead = w->graveyard;
  w->graveyard = c;
  atomic_fetch_sub_explicit(&w->load, 1, memory_order_relaxed);
}

static void on_connected(struct worker *w, struct conn *c);

/* Connects to `b`; false when no upstream could be started (the caller tries another or gives up). */
static bool connect_to(struct worker *w, struct conn *c, const struct backend *b) {
  c->tried[c->attempts++] = b->hash;
  c->addr = b->addr;
  c->addr_len = b->len;
  int fd = socket(b->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  set_nodelay(fd);
  c->counter = b->counter;
  hold(c->counter);
  c->upstream = (struct half){.fd = fd, .conn = c};
  c->connected = false;
  int r = connect(fd, (const struct sockaddr *)&b->addr, b->len);
  if (r < 0 && errno != EINPROGRESS) {
    drop_upstream(c);
    return false;
  }
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = &c->upstream};
  if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
    drop_upstream(c);
    return false;
  }
  if (r == 0) {
    c->upstream.writable = true;
    on_connected(w, c);
  }
  return true;
}

/*
 * Starts an upstream for `c` on a backend of the thread's newest table that it has not tried, while it
 * has tried fewer than maxAttempts (so a table that changed since the first pick still offers its
 * backends). False when none is left: the caller resets the client.
 */
static bool try_next(struct worker *w, struct conn *c) {
  const struct service *s = find_service(w->table, c->service);
  uint32_t max = s == NULL ? 0 : (s->max_attempts < MAX_TRIES ? s->max_attempts : MAX_TRIES);
  while (!c->closed && c->attempts < max) {
    const struct backend *b = pick(s, &c->peer, c->tried, c->attempts);
    if (b == NULL) return false;
    if (connect_to(w, c, b)) return true;
  }
  return false;
}

/* Relays an accepted client on this thread; `w->load` already counts it (conn_close uncounts it). */
static void start_conn(struct worker *w, int fd, const struct sockaddr_storage *peer, uint32_t service) {
  const struct service *s = find_service(w->table, service);
  struct conn *c = s == NULL || s->nbackends == 0 ? NULL : calloc(1, sizeof *c);
  if (c == NULL) {
    reset_close(fd);
    atomic_fetch_sub_explicit(&w->load, 1, memory_order_relaxed);
    return;
  }
  set_nodelay(fd);
  c->client = (struct half){.fd = fd, .writable = true, .conn = c};  /* a fresh socket has room */
  c->upstream.fd = -1;
  c->peer = *peer;
  c->service = service;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = &c->client};
  if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
    reset_close(fd);
    free(c);
    atomic_fetch_sub_explicit(&w->load, 1, memory_order_relaxed);
    return;
  }
  if (!try_next(w, c)) conn_close(w, c, true);
}

/*
 * The thread that relays a connection accepted by `w`: `w` itself unless another relays at least
 * HANDOFF_SLACK fewer. The kernel wakes whichever thread waits, so a burst (50 keep-alive connections
 * opened at once) can land on one thread; handing over keeps the threads within a few connections of
 * each other (as HAProxy spreads accepted connections over its threads).
 */
static struct worker *least_loaded(struct worker *w) {
  struct worker *best = w;
  int mine = atomic_load_explicit(&w->load, memory_order_relaxed), least = mine;
  for (int i = 0; i < nworkers; i++) {
    int load = atomic_load_explicit(&workers[i]->load, memory_order_relaxed);
    if (load < least) {
      least = load;
      best = workers[i];
    }
  }
  return mine - least >= HANDOFF_SLACK ? best : w;
}

static void hand_to(struct worker *to, int fd, const struct sockaddr_storage *peer, uint32_t service) {
  struct handoff *h = malloc(sizeof *h);
  if (h == NULL) {
    reset_close(fd);
    atomic_fetch_sub_explicit(&to->load, 1, memory_order_relaxed);
    return;
  }
  h->fd = fd;
  h->service = service;
  h->peer = *peer;
  pthread_mutex_lock(&to->inbox_mu);
  bool was_empty = to->inbox == NULL;
  h->next = to->inbox;
  to->inbox = h;
  pthread_mutex_unlock(&to->inbox_mu);
  if (was_empty) wake(to->wake_fd);
}

/* Starts the connections other threads handed to this one. */
static void take_inbox(struct worker *w) {
  pthread_mutex_lock(&w->inbox_mu);
  struct handoff *h = w->inbox;
  w->inbox = NULL;
  pthread_mutex_unlock(&w->inbox_mu);
  while (h != NULL) {
    struct handoff *next = h->next;
    start_conn(w, h->fd, &h->peer, h->service);
    free(h);
    h = next;
  }
}

/* Keeps the client's bytes until the first answer byte, up to REPLAY_LIMIT (then keeps none). */
static void keep_for_replay(struct conn *c, const char *p, uint32_t n) {
  if (c->replay_off) return;
  if (c->replay_len + n > REPLAY_LIMIT) {
    free(c->replay);
    c->replay = NULL;
    c->replay_len = 0;
    c->replay_off = true;
    return;
  }
  if (c->replay_len + n > c->replay_cap) {
    uint32_t cap = c->replay_cap == 0 ? 1024 : c->replay_cap;
    while (cap < c->replay_len + n) cap *= 2;
    char *r = realloc(c->replay, cap);
    if (r == NULL) {
      free(c->replay);
      c->replay = NULL;
      c->replay_off = true;
      return;
    }
    c->replay = r;
    c->replay_cap = cap;
  }
  memcpy(c->replay + c->replay_len, p, n);
  c->replay_len += n;
}

static void answered(struct conn *c) {
  if (c->answered) return;
  c->answered = true;
  free(c->replay);
  c->replay = NULL;
  c->replay_off = true;
}

static bool stash(struct pending *p, const char *data, uint32_t n) {
  if (p->buf == NULL) {
    p->buf = malloc(SCRATCH_BYTES > n ? SCRATCH_BYTES : n);
    if (p->buf == NULL) return false;
  }
  memcpy(p->buf, data, n);
  p->off = 0;
  p->len = n;
  return true;
}

enum flow { FLOW_OK, FLOW_SRC_ERROR, FLOW_DST_ERROR, FLOW_EARLY_EOF };

/*
 * Moves bytes from src to dst while both allow it. A short read is taken as "drained" unless the
 * source hung up (a new edge comes with new data), which saves one read per request.
 */
static enum flow flow(struct worker *w, struct conn *c, struct half *src, struct half *dst, struct pending *p, bool to_upstream) {
  for (;;) {
    if (p->len > 0) {
      if (!dst->writable) return FLOW_OK;
      ssize_t n = send(dst->fd, p->buf + p->off, p->len, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN) { dst->writable = false; return FLOW_OK; }
        if (errno == EINTR) continue;
        return FLOW_DST_ERROR;
      }
      p->off += (uint32_t)n;
      p->len -= (uint32_t)n;
      if (p->len > 0) { dst->writable = false; return FLOW_OK; }
      free(p->buf);
      p->buf = NULL;
      p->off = 0;
      continue;
    }
    if (p->eof || !src->readable) return FLOW_OK;
    ssize_t n = recv(src->fd, w->scratch, SCRATCH_BYTES, 0);
    if (n < 0) {
      if (errno == EAGAIN) { src->readable = false; return FLOW_OK; }
      if (errno == EINTR) continue;
      return FLOW_SRC_ERROR;
    }
    if (n == 0) {
      if (!to_upstream && !c->answered && !c->replay_off && c->replay_len > 0) return FLOW_EARLY_EOF;
      p->eof = true;
      return FLOW_OK;
    }
    if (to_upstream) keep_for_replay(c, w->scratch, (uint32_t)n);
    else answered(c);
    if ((size_t)n < SCRATCH_BYTES && !src->hup) src->readable = false;
    ssize_t m = dst->writable ? send(dst->fd, w->scratch, (size_t)n, MSG_NOSIGNAL) : 0;
    if (m < 0) {
      if (errno != EAGAIN && errno != EINTR) return FLOW_DST_ERROR;
      m = 0;
    }
    if (m < n) {
      dst->writable = false;
      if (!stash(p, w->scratch + m, (uint32_t)(n - m))) return FLOW_DST_ERROR;
      return FLOW_OK;
    }
  }
}

/*
 * The upstream failed before a byte of answer: move the client to another backend and give it the
 * kept bytes (and the client's end if it came). False when that is not possible.
 */
static bool fail_over(struct worker *w, struct conn *c) {
  if (c->answered || c->replay_off) return false;
  epoll_ctl(w->ep, EPOLL_CTL_DEL, c->upstream.fd, NULL);
  drop_upstream(c);
  free(c->up.buf);
  c->up.buf = NULL;
  c->up.len = c->up.off = 0;
  c->up.shut = false;
  c->down = (struct pending){0};
  return try_next(w, c);
}

static void pump(struct worker *w, struct conn *c) {
  if (c->closed || !c->connected) return;
  enum flow f = flow(w, c, &c->client, &c->upstream, &c->up, true);
  if (f == FLOW_SRC_ERROR) { conn_close(w, c, false); return; }
  if (f == FLOW_DST_ERROR) {
    if (!fail_over(w, c)) conn_close(w, c, false);
    return;
  }
  f = flow(w, c, &c->upstream, &c->client, &c->down, false);
  if (f == FLOW_SRC_ERROR || f == FLOW_EARLY_EOF) {
    /* No other backend to ask: the client sees the end (FIN), as it would have directly. */
    if (!fail_over(w, c)) conn_close(w, c, false);
    return;
  }
  if (f == FLOW_DST_ERROR) { conn_close(w, c, false); return; }
  bool up_done = c->up.eof && c->up.len == 0, down_done = c->down.eof && c->down.len == 0;
  if (up_done && down_done) {
    /* Both ended and everything was written: close sends the FINs still owed (no shutdown needed). */
    conn_close(w, c, false);
    return;
  }
  if (up_done && !c->up.shut) {
    shutdown(c->upstream.fd, SHUT_WR);
    c->up.shut = true;
  }
  if (down_done && !c->down.shut) {
    shutdown(c->client.fd, SHUT_WR);
    c->down.shut = true;
  }
}

static void on_connected(struct worker *w, struct conn *c) {
  c->connected = true;
  if (c->replay_len > 0) {   /* a replacement upstream: send what the failed one got */
    if (!stash(&c->up, c->replay, c->replay_len)) { conn_close(w, c, true); return; }
  }
  pump(w, c);
}

static void finish_connect(struct worker *w, struct conn *c) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(c->upstream.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
  if (err == 0 && c->upstream.writable) {
    on_connected(w, c);
    return;
  }
  if (err == 0) return;   /* not yet */
  epoll_ctl(w->ep, EPOLL_CTL_DEL, c->upstream.fd, NULL);
  drop_upstream(c);
  if (!try_next(w, c)) conn_close(w, c, true);
}

static void accept_on(struct worker *w, uint32_t id) {
  const struct route *r = find_route(w->table, id);
  if (r == NULL) return;
  for (int i = 0; i < ACCEPT_BATCH; i++) {
    struct sockaddr_storage peer;
    socklen_t len = sizeof peer;
    int fd = accept4(r->fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  /* EAGAIN, or EMFILE & co.: the listener stays ready and is tried again */
    }
    struct worker *to = nworkers > 1 ? least_loaded(w) : w;
    atomic_fetch_add_explicit(&to->load, 1, memory_order_relaxed);
    if (to == w) start_conn(w, fd, &peer, r->service);
    else hand_to(to, fd, &peer, r->service);
  }
}

/* Adopts the newest table: listeners it adds join this thread's epoll set, those it lost leave it. */
static void switch_table(struct worker *w, struct table *t) {
  struct table *old = w->table;
  for (uint32_t i = 0; old != NULL && i < old->nroutes; i++) {
    const struct route *r = find_route(t, old->routes[i].id);
    if (r == NULL || r->fd != old->routes[i].fd) epoll_ctl(w->ep, EPOLL_CTL_DEL, old->routes[i].fd, NULL);
  }
  for (uint32_t i = 0; i < t->nroutes; i++) {
    const struct route *r = old == NULL ? NULL : find_route(old, t->routes[i].id);
    if (r != NULL && r->fd == t->routes[i].fd) continue;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.u64 = ((uint64_t)t->routes[i].id << 2) | TAG_LISTENER};
    epoll_ctl(w->ep, EPOLL_CTL_ADD, t->routes[i].fd, &ev);
  }
  w->table = t;
  atomic_store_explicit(&w->seen, t->version, memory_order_release);
  wake(main_wake);
}

static void *relay_thread(void *arg) {
  struct worker *w = arg;
  struct epoll_event events[MAX_EVENTS];
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  for (;;) {
    int n = epoll_wait(w->ep, events, MAX_EVENTS, -1);
    struct table *t = atomic_load_explicit(&current_table, memory_order_acquire);
    if (t != NULL && t != w->table) switch_table(w, t);
    for (int i = 0; i < n; i++) {
      uint64_t tag = events[i].data.u64 & 3;
      if (tag == TAG_LISTENER) {
        if (w->table != NULL) accept_on(w, (uint32_t)(events[i].data.u64 >> 2));
        continue;
      }
      if (tag == TAG_WAKE) {
        uint64_t v;
        while (read(w->wake_fd, &v, sizeof v) < 0 && errno == EINTR) {}
        if (w->table != NULL) take_inbox(w);
        continue;
      }
      struct half *h = events[i].data.ptr;
      struct conn *c = h->conn;
      if (c->closed) continue;
      uint32_t e = events[i].events;
      if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) h->readable = true;
      if (e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) h->hup = true;
      if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) h->writable = true;
      if (h == &c->upstream && !c->connected) finish_connect(w, c);
      else pump(w, c);
    }
    while (w->graveyard != NULL) {
      struct conn *c = w->graveyard;
      w->graveyard = c->next_dead;
      free(c);
    }
    /* Again before blocking: a wake read in this batch may have been for a table published after the
     * check above (the eventfd counts both wakes as one), and nothing else would wake us for it. */
    t = atomic_load_explicit(&current_table, memory_order_acquire);
    if (t != NULL && t != w->table) switch_table(w, t);
  }
  return NULL;
}

/* ---------------------------------------------------------------- control (main thread) */

struct service_def {
  struct service_def *next;
  uint32_t id;
  uint32_t max_attempts;
  uint64_t timeout_ms;
  uint32_t nbackends;
  struct backend *backends;   /* counters referenced by this definition: refs counted per table */
  atomic_uint cursor;
  struct affinity *affinity;  /* created with the first ClientIP definition */
};

struct listener_def {
  struct listener_def *next;
  uint32_t id;
  int fd;
  uint32_t service;           /* 0: not routed */
  bool published;             /* some published table has its fd */
};

/* Something to do once every thread has seen table `version`: free a table, close a socket. */
struct deferred {
  struct deferred *next;
  uint64_t version;
  struct table *table;
  int fd;
  struct affinity *affinity;
  struct service_def *def;
};

struct ack { struct ack *next; uint64_t version; char seq[32]; };

static struct counter *registry[COUNTER_BUCKETS];
static struct service_def *services;
static struct listener_def *listeners;
static struct deferred *deferred_head, **deferred_tail = &deferred_head;
static struct ack *acks_head, **acks_tail = &acks_head;
static uint64_t version;
static int flush_timer;
static bool flush_armed;

static char out[65536];
static size_t out_len;

static void flush_out(void) {
  size_t off = 0;
  while (off < out_len) {
    ssize_t n = write(1, out + off, out_len - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      _exit(0);  /* the parent is gone */
    }
    off += (size_t)n;
  }
  out_len = 0;
}

static void say(const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line - 1, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n > sizeof line - 2) n = (int)sizeof line - 2;
  line[n++] = '\n';
  if (out_len + (size_t)n > sizeof out) flush_out();
  memcpy(out + out_len, line, (size_t)n);
  out_len += (size_t)n;
}

static struct counter *counter_for(const char *key) {
  uint32_t h = hash_bytes((const uint8_t *)key, strlen(key)) % COUNTER_BUCKETS;
  for (struct counter *c = registry[h]; c != NULL; c = c->next)
    if (strcmp(c->key, key) == 0) return c;
  struct counter *c = calloc(1, sizeof *c);
  if (c == NULL) return NULL;
  snprintf(c->key, sizeof c->key, "%s", key);
  c->next = registry[h];
  registry[h] = c;
  return c;
}

/* Reports changed counts; frees counters no table lists, no connection holds and last reported 0. */
static void report_counts(void) {
  atomic_store_explicit(&counts_dirty, 0, memory_order_release);
  for (int h = 0; h < COUNTER_BUCKETS; h++) {
    for (struct counter **p = &registry[h]; *p != NULL;) {
      struct counter *c = *p;
      int n = atomic_load_explicit(&c->count, memory_order_relaxed);
      if (n != c->reported) {
        say("N %s %d", c->key, n);
        c->reported = n;
      }
      if (n == 0 && c->refs == 0) {
        *p = c->next;
        free(c);
      } else {
        p = &c->next;
      }
    }
  }
}

/* "1.2.3.4:80" or "[::1]:80" → address; the key is the same text. */
static bool parse_backend(const char *text, struct backend *b) {
  char host[64];
  const char *colon = strrchr(text, ':');
  if (colon == NULL || colon == text) return false;
  size_t hl = (size_t)(colon - text);
  if (text[0] == '[') {
    if (hl < 3 || text[hl - 1] != ']') return false;
    hl -= 2;
    if (hl >= sizeof host) return false;
    memcpy(host, text + 1, hl);
  } else {
    if (hl >= sizeof host) return false;
    memcpy(host, text, hl);
  }
  host[hl] = 0;
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if (*end != 0 || port < 1 || port > 65535) return false;
  memset(&b->addr, 0, sizeof b->addr);
  struct sockaddr_in *v4 = (struct sockaddr_in *)&b->addr;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&b->addr;
  if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
    b->len = sizeof *v4;
  } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)port);
    b->len = sizeof *v6;
  } else {
    return false;
  }
  return true;
}

static struct service_def *find_def(uint32_t id) {
  for (struct service_def *d = services; d != NULL; d = d->next)
    if (d->id == id) return d;
  return NULL;
}

static struct listener_def *find_listener(uint32_t id) {
  for (struct listener_def *l = listeners; l != NULL; l = l->next)
    if (l->id == id) return l;
  return NULL;
}

static void defer(struct deferred d) {
  struct deferred *x = malloc(sizeof *x);
  if (x == NULL) return;  /* leaks one item rather than freeing it too early */
  *x = d;
  x->next = NULL;
  *deferred_tail = x;
  deferred_tail = &x->next;
}

static void free_def(struct service_def *d) {
  for (uint32_t j = 0; j < d->nbackends; j++) d->backends[j].counter->refs--;
  free(d->backends);
  if (d->affinity != NULL) {
    pthread_mutex_destroy(&d->affinity->mu);
    free(d->affinity->slots);
    free(d->affinity);
  }
  free(d);
}

static void cmd_service(char *args) {
  char *save;
  char *id_s = strtok_r(args, " ", &save), *aff_s = strtok_r(NULL, " ", &save), *max_s = strtok_r(NULL, " ", &save);
  if (id_s == NULL || aff_s == NULL || max_s == NULL) { say("E bad S command"); return; }
  uint32_t id = (uint32_t)strtoul(id_s, NULL, 10);
  struct backend *backends = NULL;
  uint32_t n = 0, cap = 0;
  for (char *t = strtok_r(NULL, " ", &save); t != NULL; t = strtok_r(NULL, " ", &save)) {
    if (n == cap) {
      cap = cap == 0 ? 4 : cap * 2;
      struct backend *nb = realloc(backends, cap * sizeof *nb);
      if (nb == NULL) { free(backends); say("E out of memory"); return; }
      backends = nb;
    }
    if (!parse_backend(t, &backends[n])) { say("E bad backend %s", t); continue; }
    backends[n].hash = hash_bytes((const uint8_t *)&backends[n].addr, backends[n].len);
    backends[n].counter = counter_for(t);
    if (backends[n].counter == NULL) { say("E out of memory"); continue; }
    backends[n].counter->refs++;
    n++;
  }
  struct service_def *d = find_def(id);
  if (d == NULL) {
    d = calloc(1, sizeof *d);
    if (d == NULL) { free(backends); say("E out of memory"); return; }
    d->id = id;
    d->next = services;
    services = d;
  } else {
    for (uint32_t j = 0; j < d->nbackends; j++) d->backends[j].counter->refs--;
    free(d->backends);  /* tables copy backends: nothing published points here */
  }
  d->backends = backends;
  d->nbackends = n;
  d->timeout_ms = strtoull(aff_s, NULL, 10) * 1000;
  if (d->timeout_ms == 0 && d->affinity != NULL) {  /* affinity turned off: a later ClientIP starts afresh */
    pthread_mutex_lock(&d->affinity->mu);
    memset(d->affinity->slots, 0, d->affinity->cap * sizeof *d->affinity->slots);
    d->affinity->used = 0;
    pthread_mutex_unlock(&d->affinity->mu);
  }
  d->max_attempts = (uint32_t)strtoul(max_s, NULL, 10);
  if (d->timeout_ms > 0 && d->affinity == NULL) {
    d->affinity = calloc(1, sizeof *d->affinity);
    if (d->affinity != NULL) {
      pthread_mutex_init(&d->affinity->mu, NULL);
      d->affinity->cap = 1024;
      d->affinity->slots = calloc(d->affinity->cap, sizeof *d->affinity->slots);
      if (d->affinity->slots == NULL) { free(d->affinity); d->affinity = NULL; }
    }
    if (d->affinity == NULL) { d->timeout_ms = 0; say("E out of memory: service %u balances round robin", id); }
  }
}

static void cmd_delete(uint32_t id) {
  for (struct service_def **p = &services; *p != NULL; p = &(*p)->next) {
    if ((*p)->id != id) continue;
    struct service_def *d = *p;
    *p = d->next;
    defer((struct deferred){.version = version + 1, .fd = -1, .def = d});  /* tables may use its cursor */
    return;
  }
}

static const char *errno_name(int e) {
  const char *name = strerrorname_np(e);
  return name != NULL ? name : "ERROR";
}

static void cmd_listen(uint32_t id, const char *host, const char *port_s) {
  char text[128];
  snprintf(text, sizeof text, strchr(host, ':') != NULL ? "[%s]:%s" : "%s:%s", host, port_s);
  struct backend where;
  if (find_listener(id) != NULL) { say("L %u err EEXIST listener id %u is taken", id, id); return; }
  if (!parse_backend(text, &where)) { say("L %u err EINVAL bad address %s", id, text); return; }
  int fd = socket(where.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd < 0) { say("L %u err %s socket: %s", id, errno_name(errno), strerror(errno)); return; }
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (where.addr.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&where.addr, where.len) < 0 || listen(fd, 511) < 0) {
    int e = errno;
    close(fd);
    char reason[128];
    snprintf(reason, sizeof reason, "%s", strerror(e));
    reason[0] = (char)tolower((unsigned char)reason[0]);
    say("L %u err %s listen %s: %s %s", id, errno_name(e), errno_name(e), reason, text);
    return;
  }
  struct listener_def *l = calloc(1, sizeof *l);
  if (l == NULL) { close(fd); say("L %u err ENOMEM out of memory", id); return; }
  l->id = id;
  l->fd = fd;
  l->next = listeners;
  listeners = l;
  say("L %u ok", id);
}

static void cmd_close(uint32_t id) {
  for (struct listener_def **p = &listeners; *p != NULL; p = &(*p)->next) {
    if ((*p)->id != id) continue;
    struct listener_def *l = *p;
    *p = l->next;
    if (l->published) defer((struct deferred){.version = version + 1, .fd = l->fd});
    else close(l->fd);
    free(l);
    return;
  }
}

static int by_service_id(const void *a, const void *b) {
  uint32_t x = ((const struct service *)a)->id, y = ((const struct service *)b)->id;
  return x < y ? -1 : x > y;
}

static int by_route_id(const void *a, const void *b) {
  uint32_t x = ((const struct route *)a)->id, y = ((const struct route *)b)->id;
  return x < y ? -1 : x > y;
}

static void free_table(struct table *t) {
  for (uint32_t i = 0; i < t->nservices; i++) {
    for (uint32_t j = 0; j < t->services[i].nbackends; j++) t->services[i].backends[j].counter->refs--;
    free(t->services[i].backends);
  }
  free(t->services);
  free(t->routes);
  free(t);
}

static void cmd_commit(const char *seq) {
  struct table *t = calloc(1, sizeof *t);
  uint32_t ns = 0, nr = 0;
  for (struct service_def *d = services; d != NULL; d = d->next) ns++;
  for (struct listener_def *l = listeners; l != NULL; l = l->next) nr += l->service != 0;
  if (t == NULL || (t->services = calloc(ns + 1, sizeof *t->services)) == NULL || (t->routes = calloc(nr + 1, sizeof *t->routes)) == NULL) {
    say("E out of memory: table %s not applied", seq);
    if (t != NULL) { free(t->services); free(t); }
    return;
  }
  for (struct service_def *d = services; d != NULL; d = d->next) {
    struct service *s = &t->services[t->nservices];
    s->backends = malloc((d->nbackends + 1) * sizeof *s->backends);
    if (s->backends == NULL) continue;
    memcpy(s->backends, d->backends, d->nbackends * sizeof *s->backends);
    for (uint32_t j = 0; j < d->nbackends; j++) s->backends[j].counter->refs++;
    s->id = d->id;
    s->nbackends = d->nbackends;
    s->max_attempts = d->max_attempts;
    s->timeout_ms = d->timeout_ms;
    s->cursor = &d->cursor;
    s->affinity = d->affinity;
    t->nservices++;
  }
  for (struct listener_def *l = listeners; l != NULL; l = l->next) {
    if (l->service == 0) continue;
    t->routes[t->nroutes++] = (struct route){.id = l->id, .fd = l->fd, .service = l->service};
    l->published = true;
  }
  qsort(t->services, t->nservices, sizeof *t->services, by_service_id);
  qsort(t->routes, t->nroutes, sizeof *t->routes, by_route_id);
  t->version = ++version;
  struct table *old = atomic_exchange_explicit(&current_table, t, memory_order_acq_rel);
  if (old != NULL) defer((struct deferred){.version = t->version, .table = old, .fd = -1});
  struct ack *a = calloc(1, sizeof *a);
  if (a != NULL) {
    a->version = t->version;
    snprintf(a->seq, sizeof a->seq, "%s", seq);
    *acks_tail = a;
    acks_tail = &a->next;
  }
  for (int i = 0; i < nworkers; i++) wake(workers[i]->wake_fd);
}

/* Runs what every thread has moved past, then acknowledges the commits they all use. */
static void settle(void) {
  uint64_t seen = UINT64_MAX;
  for (int i = 0; i < nworkers; i++) {
    uint64_t v = atomic_load_explicit(&workers[i]->seen, memory_order_acquire);
    if (v < seen) seen = v;
  }
  while (deferred_head != NULL && deferred_head->version <= seen) {
    struct deferred *d = deferred_head;
    deferred_head = d->next;
    if (deferred_head == NULL) deferred_tail = &deferred_head;
    if (d->table != NULL) free_table(d->table);
    if (d->fd >= 0) close(d->fd);
    if (d->def != NULL) free_def(d->def);
    free(d);
  }
  /* Counts first: a connection picked with an older table is reported before the ack that ends it
   * (the drain barrier reads activeConnections as soon as sync resolves). */
  if (acks_head != NULL && acks_head->version <= seen) report_counts();
  while (acks_head != NULL && acks_head->version <= seen) {
    struct ack *a = acks_head;
    acks_head = a->next;
    if (acks_head == NULL) acks_tail = &acks_head;
    say("A %s", a->seq);
    free(a);
  }
}

static void command(char *line) {
  char *save;
  char *op = strtok_r(line, " ", &save);
  if (op == NULL) return;
  char *rest = save;
  if (strcmp(op, "S") == 0) { cmd_service(rest); return; }
  char *a = strtok_r(NULL, " ", &save), *b = strtok_r(NULL, " ", &save), *c = strtok_r(NULL, " ", &save);
  if (strcmp(op, "C") == 0 && a != NULL) cmd_commit(a);
  else if (strcmp(op, "L") == 0 && c != NULL) cmd_listen((uint32_t)strtoul(a, NULL, 10), b, c);
  else if (strcmp(op, "T") == 0 && a != NULL) {
    char line[400];
    int n = snprintf(line, sizeof line, "T %s", a);
    for (int i = 0; i < nworkers && n > 0 && (size_t)n < sizeof line - 12; i++)
      n += snprintf(line + n, sizeof line - (size_t)n, " %d", atomic_load_explicit(&workers[i]->load, memory_order_relaxed));
    say("%s", line);
  } else if (strcmp(op, "X") == 0 && a != NULL) cmd_close((uint32_t)strtoul(a, NULL, 10));
  else if (strcmp(op, "D") == 0 && a != NULL) cmd_delete((uint32_t)strtoul(a, NULL, 10));
  else if (strcmp(op, "M") == 0 && b != NULL) {
    struct listener_def *l = find_listener((uint32_t)strtoul(a, NULL, 10));
    if (l != NULL) l->service = (uint32_t)strtoul(b, NULL, 10);
  } else say("E unknown command %s", op);
}

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
  main_wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  flush_timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (main_wake < 0 || flush_timer < 0) { perror("berth-relay: eventfd"); return 1; }
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
  struct pollfd fds[3] = {{.fd = 0, .events = POLLIN}, {.fd = main_wake, .events = POLLIN}, {.fd = flush_timer, .events = POLLIN}};
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
    if (fds[1].revents) {
      uint64_t v;
      if (read(main_wake, &v, sizeof v) < 0 && errno != EAGAIN) {}
      if (atomic_load_explicit(&counts_dirty, memory_order_acquire) && !flush_armed) {
        struct itimerspec its = {.it_value = {.tv_sec = 0, .tv_nsec = FLUSH_MS * 1000000L}};
        timerfd_settime(flush_timer, 0, &its, NULL);
        flush_armed = true;
      }
    }
    if (fds[2].revents) {
      uint64_t v;
      if (read(flush_timer, &v, sizeof v) < 0 && errno != EAGAIN) {}
      flush_armed = false;
      report_counts();
    }
    settle();
    flush_out();
  }
}
