/* One relayed connection: connect (with retries on untried backends), move bytes both ways with
 * backpressure and half-close, fail over before the first answer byte, close. */
#include "relay.h"

static void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Closes with RST (SO_LINGER 0), as node's resetAndDestroy(). */
void reset_close(int fd) {
  struct linger l = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(fd);
}

uint32_t connect_timeout_ms = 5000;

static void dequeue_connect(struct worker *w, struct conn *c) {
  if (!c->connecting) return;
  c->connecting = false;
  if (c->cq_prev != NULL) c->cq_prev->cq_next = c->cq_next;
  else w->cq_head = c->cq_next;
  if (c->cq_next != NULL) c->cq_next->cq_prev = c->cq_prev;
  else w->cq_tail = c->cq_prev;
  c->cq_prev = c->cq_next = NULL;
}

static void enqueue_connect(struct worker *w, struct conn *c) {
  if (connect_timeout_ms == 0) return;
  c->connecting = true;
  c->deadline_ms = now_ms() + connect_timeout_ms;
  c->cq_next = NULL;
  c->cq_prev = w->cq_tail;
  if (w->cq_tail != NULL) w->cq_tail->cq_next = c;
  else w->cq_head = c;
  w->cq_tail = c;
}

static void drop_upstream(struct worker *w, struct conn *c) {
  dequeue_connect(w, c);
  if (c->upstream.fd >= 0) close(c->upstream.fd);
  c->upstream.fd = -1;
  if (c->counter != NULL) release(c->counter);
  c->counter = NULL;
  c->connected = false;
}

static void conn_close(struct worker *w, struct conn *c, bool reset_client) {
  if (c->closed) return;
  c->closed = true;
  drop_upstream(w, c);
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
    drop_upstream(w, c);
    return false;
  }
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = &c->upstream};
  if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
    drop_upstream(w, c);
    return false;
  }
  if (r == 0) {
    c->upstream.writable = true;
    on_connected(w, c);
  } else {
    enqueue_connect(w, c);
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
void start_conn(struct worker *w, int fd, const struct sockaddr_storage *peer, uint32_t service) {
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
  drop_upstream(w, c);
  free(c->up.buf);
  c->up.buf = NULL;
  c->up.len = c->up.off = 0;
  c->up.shut = false;
  c->down = (struct pending){0};
  return try_next(w, c);
}

void pump(struct worker *w, struct conn *c) {
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
  dequeue_connect(w, c);
  c->connected = true;
  if (c->replay_len > 0) {   /* a replacement upstream: send what the failed one got */
    if (!stash(&c->up, c->replay, c->replay_len)) { conn_close(w, c, true); return; }
  }
  pump(w, c);
}

void finish_connect(struct worker *w, struct conn *c) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(c->upstream.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
  if (err == 0 && c->upstream.writable) {
    on_connected(w, c);
    return;
  }
  if (err == 0) return;   /* not yet */
  epoll_ctl(w->ep, EPOLL_CTL_DEL, c->upstream.fd, NULL);
  drop_upstream(w, c);
  if (!try_next(w, c)) conn_close(w, c, true);
}

/* How long the thread may block: until the oldest connect in progress is due (-1: none in progress). */
int connect_wait_ms(struct worker *w) {
  if (w->cq_head == NULL) return -1;
  uint64_t now = now_ms();
  return w->cq_head->deadline_ms <= now ? 0 : (int)(w->cq_head->deadline_ms - now);
}

/* Gives up the connects older than connect_timeout_ms: each is tried on another backend, or reset. */
void expire_connects(struct worker *w) {
  uint64_t now = now_ms();
  while (w->cq_head != NULL && w->cq_head->deadline_ms <= now) {
    struct conn *c = w->cq_head;
    epoll_ctl(w->ep, EPOLL_CTL_DEL, c->upstream.fd, NULL);
    drop_upstream(w, c);
    if (!try_next(w, c)) conn_close(w, c, true);
  }
}
