/* The relay threads: each an epoll loop that accepts on the shared listeners, hands connections to a
 * less loaded thread, adopts new tables and relays its connections (conn.c). */
#include "relay.h"

_Atomic(struct table *) current_table;
int main_wake;
atomic_int counts_dirty;
struct worker *workers[MAX_THREADS];
int nworkers;

void wake(int fd) {
  uint64_t one = 1;
  while (write(fd, &one, sizeof one) < 0 && errno == EINTR) {}
}

static const struct route *find_route(const struct table *t, uint32_t id) {
  uint32_t lo = 0, hi = t->nroutes;
  while (lo < hi) {
    uint32_t mid = (lo + hi) / 2;
    if (t->routes[mid].id == id) return &t->routes[mid];
    if (t->routes[mid].id < id) lo = mid + 1; else hi = mid;
  }
  return NULL;
}

const struct service *find_service(const struct table *t, uint32_t id) {
  uint32_t lo = 0, hi = t->nservices;
  while (lo < hi) {
    uint32_t mid = (lo + hi) / 2;
    if (t->services[mid].id == id) return &t->services[mid];
    if (t->services[mid].id < id) lo = mid + 1; else hi = mid;
  }
  return NULL;
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

void *relay_thread(void *arg) {
  struct worker *w = arg;
  struct epoll_event events[MAX_EVENTS];
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  for (;;) {
    int n = epoll_wait(w->ep, events, MAX_EVENTS, connect_wait_ms(w));
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
    expire_connects(w);
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
