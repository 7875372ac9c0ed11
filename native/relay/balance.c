/* Picking a backend for a connection (round robin, ClientIP affinity, skipping those tried) and counting
 * the connections each backend holds. */
#include "relay.h"

uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void count_changed(void) {
  if (atomic_exchange_explicit(&counts_dirty, 1, memory_order_acq_rel) == 0) wake(main_wake);
}

void hold(struct counter *c) {
  atomic_fetch_add_explicit(&c->count, 1, memory_order_relaxed);
  count_changed();
}

void release(struct counter *c) {
  atomic_fetch_sub_explicit(&c->count, 1, memory_order_relaxed);
  count_changed();
}

static bool same_addr(const struct sockaddr_storage *a, socklen_t alen, const struct sockaddr_storage *b, socklen_t blen) {
  return alen == blen && memcmp(a, b, alen) == 0;
}

uint32_t hash_bytes(const uint8_t *p, size_t n) {
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
const struct backend *pick(const struct service *s, const struct sockaddr_storage *peer, const uint32_t *done, uint32_t ndone) {
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
