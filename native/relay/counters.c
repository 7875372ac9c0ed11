/* The registry of backend counters (main thread): one counter per backend address a table or a
 * connection refers to, reported on stdout when its count changes and freed when nothing refers to it. */
#include "relay.h"

static struct counter *registry[COUNTER_BUCKETS];

/* The counter of a backend key, created on first use (main thread). */
struct counter *counter_for(const char *key) {
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
void report_counts(void) {
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
