/* The control side, on the main thread: the line protocol (see relay.h), service and listener
 * definitions, immutable tables and their reclamation, count reports. */
#include "relay.h"

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

static struct service_def *services;
static struct listener_def *listeners;
static struct deferred *deferred_head, **deferred_tail = &deferred_head;
static struct ack *acks_head, **acks_tail = &acks_head;
static uint64_t version;
static int flush_timer = -1;
static bool flush_armed;

static char out[65536];
static size_t out_len;

void flush_out(void) {
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

void say(const char *fmt, ...) {
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
void settle(void) {
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

void command(char *line) {
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

/* The timer that coalesces count reports (created on first use). */
int control_timer_fd(void) {
  if (flush_timer < 0) flush_timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  return flush_timer;
}

/* A thread woke the main thread: a count changed (report within FLUSH_MS) or a table was adopted. */
void control_woken(void) {
  uint64_t v;
  if (read(main_wake, &v, sizeof v) < 0 && errno != EAGAIN) {}
  if (atomic_load_explicit(&counts_dirty, memory_order_acquire) && !flush_armed) {
    struct itimerspec its = {.it_value = {.tv_sec = 0, .tv_nsec = FLUSH_MS * 1000000L}};
    timerfd_settime(control_timer_fd(), 0, &its, NULL);
    flush_armed = true;
  }
}

/* The coalescing timer fired: report the counts that changed. */
void control_flush_due(void) {
  uint64_t v;
  if (read(control_timer_fd(), &v, sizeof v) < 0 && errno != EAGAIN) {}
  flush_armed = false;
  report_counts();
}
