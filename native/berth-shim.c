/*
 * berth-shim: the supervisor of one process-driver container (after conmon / containerd-shim).
 *
 *   berth-shim --exit-file F --log F --log-max-bytes N --log-max-files K [--state-file F] [--cwd DIR]
 *              [--user NAME|UID] -- argv...
 *   berth-shim --launcher [TAG...]  (serves start requests on stdin; see "launcher mode" below)
 *
 * The shim outlives the berth server, so that a server restart neither restarts nor loses containers:
 *   - it removes a stale exit file, opens the log, forks the container (own process group, default
 *     signal dispositions, empty mask, optional cwd and user, PR_SET_PDEATHSIG) and, once execvp
 *     succeeded, prints "<pid> <pidStartTicks> <shimPid> <shimStartTicks>\n" on stdout; when it did not,
 *     "error: <what>: <reason>\n" and exit status 127; then stdout becomes /dev/null. With --state-file,
 *     that same report line is first written to the state file (tmp, rename): the shim's own record
 *     of what it runs, from which a restarted berth finds it even if berth never heard the report;
 *   - it copies the container's stdout and stderr to the log in CRI format, one record per line
 *     ("<RFC3339Nano UTC> <stdout|stderr> <F|P> <text>\n", P for each 16 KiB piece of a longer line),
 *     rotating by size (log -> log.N, N one more than the highest N present; only the newest K
 *     rotated files are kept, and a rotated file is never renamed);
 *   - when the container's main process exits it SIGKILLs what is left of the container (its process
 *     group and the orphans the shim adopted as subreaper), drains the pipes for at most 200 ms, and
 *     atomically writes the exit file (tmp, fsync, rename, fsync dir):
 *     {"exitCode":N,"signal":"SIGKILL"|null,"finishedAt":"RFC3339Nano"}, exitCode 128+n for signal n.
 * Invariants: the container never outlives the shim (PDEATHSIG); the exit file, once present, is
 * complete and final; the shim never blocks the container on a full disk or a lost reader (records are
 * dropped instead); only SIGKILL ends the shim early (INT, TERM, HUP, PIPE are ignored).
 * Start ticks (field 22 of /proc/PID/stat) travel with every pid, so that a recycled pid is never
 * mistaken for the container.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 16384     /* longest record text; longer lines are split into P records */
#define DRAIN_MS 200    /* how long to read the pipes after the main process exited */
#define TIME_LEN 30     /* "2006-01-02T15:04:05.999999999Z" */
#define TIME_BUF 96     /* room the compiler can prove for any int fields */
/* Directories the shim creates (the instance's state directory and its parents): others may pass
 * through to what they own (a container running as another user reaches its working directory) but
 * not list them; every file in them is 0600. See docs/security.md. */
#define DIR_MODE 0711

struct options {
  const char *exit_file;
  const char *log_file;
  const char *cwd;
  const char *user;
  const char *state_file; /* NULL: no state file */
  unsigned long long log_max_bytes; /* 0: never rotate */
  unsigned log_max_files;           /* rotated files kept besides the current one */
  char **argv;
};

struct log {
  int fd;
  const char *path;
  unsigned long long size;
  unsigned long long max_bytes;
  unsigned max_files;
  unsigned long long last_rotated; /* the N of the last `path.N` this shim rotated to, 0 before any */
};

struct stream {
  int fd;
  const char *name;
  size_t len;
  char buf[CHUNK];
};

static struct log out_log = {.fd = -1};
/* The log belongs to the user the container runs as (set when the shim switches user as root); the
 * directory it lies in stays the shim's, so the container can read and append to its log but never
 * swap it for a link to another file. */
static int log_chown;
static uid_t log_uid;
static gid_t log_gid;
static struct stream streams[2];

/* ---------- small I/O helpers (EINTR and partial writes) ---------- */

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int writev_all(int fd, struct iovec *iov, int cnt) {
  while (cnt > 0) {
    ssize_t w = writev(fd, iov, cnt);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    while (cnt > 0 && (size_t)w >= iov->iov_len) {
      w -= (ssize_t)iov->iov_len;
      iov++;
      cnt--;
    }
    if (cnt > 0) {
      iov->iov_base = (char *)iov->iov_base + w;
      iov->iov_len -= (size_t)w;
    }
  }
  return 0;
}

/* Reports a failure before the container runs, on stdout where the driver reads it, then exits 127. */
static void fail(const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(msg, sizeof msg - 1, fmt, ap);
  va_end(ap);
  if (n < 0) n = 0;
  if ((size_t)n > sizeof msg - 2) n = (int)sizeof msg - 2;
  msg[n++] = '\n';
  (void)write_all(1, msg, (size_t)n);
  _exit(127);
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void format_time(char out[TIME_BUF], const struct timespec *ts) {
  struct tm tm;
  gmtime_r(&ts->tv_sec, &tm);
  snprintf(out, TIME_BUF, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts->tv_nsec);
}

/* Field 22 of /proc/PID/stat (start time in clock ticks since boot): with the pid, it names a process
 * uniquely, so that a recycled pid is never mistaken for the container. 0 when unreadable. */
static unsigned long long read_start_ticks(pid_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n;
  do n = read(fd, buf, sizeof buf - 1);
  while (n < 0 && errno == EINTR);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  char *p = strrchr(buf, ')'); /* comm may hold spaces and parentheses */
  if (!p) return 0;
  p++;
  for (int field = 3; field < 22 && *p; field++) { /* skip fields 3..21; p stands before field 3 */
    while (*p == ' ') p++;
    while (*p && *p != ' ') p++;
  }
  while (*p == ' ') p++;
  return strtoull(p, NULL, 10);
}

/* ---------- the log: CRI records, size rotation ---------- */

/* Creates the directories above `file` (mkdir -p of its dirname). Done here rather than in berth, so a
 * hundred starts cost berth's event loop no filesystem round trips. */
static void mkdir_parents(const char *file) {
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", file);
  char *slash = strrchr(dir, '/');
  if (!slash || slash == dir) return;
  *slash = '\0';
  if (mkdir(dir, DIR_MODE) == 0 || errno == EEXIST) return;
  if (errno != ENOENT) return;
  for (char *p = dir + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(dir, DIR_MODE) != 0 && errno != EEXIST) {
      *p = '/';
      return;
    }
    *p = '/';
  }
  mkdir(dir, DIR_MODE);
}

static void log_open(struct log *lg) {
  lg->fd = open(lg->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (lg->fd >= 0 && log_chown) (void)fchown(lg->fd, log_uid, log_gid);
  lg->size = 0;
  struct stat st;
  if (lg->fd >= 0 && fstat(lg->fd, &st) == 0) lg->size = (unsigned long long)st.st_size;
}

static int cmp_ull(const void *a, const void *b) {
  unsigned long long x = *(const unsigned long long *)a, y = *(const unsigned long long *)b;
  return x < y ? -1 : x > y;
}

/* The N of every rotated file `<path>.N` (decimal, no leading zero, N >= 1), ascending, in a malloc'd
 * array (NULL when there is none); *count is how many. Returns -1 when the directory cannot be read. */
static int rotated_numbers(const char *path, unsigned long long **out, size_t *count) {
  char dir[PATH_MAX];
  const char *slash = strrchr(path, '/');
  const char *base = slash ? slash + 1 : path;
  if (!slash) snprintf(dir, sizeof dir, ".");
  else if (slash == path) snprintf(dir, sizeof dir, "/");
  else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
  size_t blen = strlen(base), n = 0, cap = 0;
  unsigned long long *ns = NULL;
  *out = NULL;
  *count = 0;
  DIR *d = opendir(dir);
  if (!d) return -1;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    const char *name = e->d_name;
    if (strncmp(name, base, blen) != 0 || name[blen] != '.') continue;
    const char *num = name + blen + 1;
    if (*num < '1' || *num > '9' || strlen(num) > 15) continue; /* 15 digits: exact in a JS number too */
    const char *q = num;
    while (isdigit((unsigned char)*q)) q++;
    if (*q != '\0') continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 16;
      unsigned long long *grown = realloc(ns, cap * sizeof *ns);
      if (!grown) break; /* the files listed so far are still right, only fewer */
      ns = grown;
    }
    ns[n++] = strtoull(num, NULL, 10);
  }
  closedir(d);
  if (n > 1) qsort(ns, n, sizeof *ns, cmp_ull);
  *out = ns;
  *count = n;
  return 0;
}

/* Rotation never renames a rotated file: `log` becomes `log.N` with N one more than the highest N there
 * (or this shim used), and the lowest Ns are deleted down to max_files. So a rotated file keeps its name
 * for life and a larger N is always a newer file, which lets readers order files by name without racing
 * the shim. */
static void log_rotate(struct log *lg) {
  char to[PATH_MAX + 32];
  if (lg->fd >= 0) close(lg->fd);
  lg->fd = -1;
  unsigned long long *ns;
  size_t n;
  int listed = rotated_numbers(lg->path, &ns, &n) == 0;
  size_t kept = n;
  if (lg->max_files == 0) {
    unlink(lg->path);
  } else {
    unsigned long long next = lg->last_rotated + 1;
    if (n > 0 && ns[n - 1] >= next) next = ns[n - 1] + 1;
    snprintf(to, sizeof to, "%s.%llu", lg->path, next);
    if (rename(lg->path, to) == 0) {
      lg->last_rotated = next;
      kept++;
    }
  }
  /* Oldest first; left-overs of a larger K go too. Unlisted (unreadable directory): delete nothing. */
  for (size_t i = 0; listed && i < n && kept > lg->max_files; i++, kept--) {
    snprintf(to, sizeof to, "%s.%llu", lg->path, ns[i]);
    unlink(to);
  }
  free(ns);
  log_open(lg);
}

static void log_record(struct log *lg, const char *stamp, const char *stream, char tag, const char *text,
                       size_t len) {
  if (lg->fd < 0) log_open(lg); /* the directory may come back; a record is dropped, never blocks */
  if (lg->fd < 0) return;
  char head[TIME_BUF + 16];
  int hn = snprintf(head, sizeof head, "%s %s %c ", stamp, stream, tag);
  struct iovec iov[3] = {{head, (size_t)hn}, {(void *)text, len}, {"\n", 1}};
  if (writev_all(lg->fd, iov, 3) != 0) return; /* ENOSPC, EIO: drop the record, keep the child going */
  lg->size += (unsigned long long)hn + len + 1;
  if (lg->max_bytes > 0 && lg->size >= lg->max_bytes) log_rotate(lg);
}

/* ---------- the container's pipes ---------- */

static void stream_close(struct stream *s, const char *stamp) {
  if (s->len > 0) log_record(&out_log, stamp, s->name, 'F', s->buf, s->len); /* last line, no newline */
  s->len = 0;
  close(s->fd);
  s->fd = -1;
}

/* One read per readiness: records every complete line, and a P record when CHUNK bytes hold no newline. */
static void stream_read(struct stream *s) {
  ssize_t n;
  do n = read(s->fd, s->buf + s->len, CHUNK - s->len);
  while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  char stamp[TIME_BUF];
  format_time(stamp, &ts);
  if (n <= 0) {
    stream_close(s, stamp);
    return;
  }
  size_t end = s->len + (size_t)n, start = 0;
  char *nl;
  while ((nl = memchr(s->buf + start, '\n', end - start)) != NULL) {
    size_t line_end = (size_t)(nl - s->buf);
    log_record(&out_log, stamp, s->name, 'F', s->buf + start, line_end - start);
    start = line_end + 1;
  }
  if (start == 0 && end == CHUNK) {
    log_record(&out_log, stamp, s->name, 'P', s->buf, CHUNK);
    end = 0;
  } else if (start > 0) {
    memmove(s->buf, s->buf + start, end - start);
    end -= start;
  }
  s->len = end;
}

/* ---------- ending ---------- */

/* SIGKILLs every process the shim adopted as subreaper (daemons that left the container's group). */
static void kill_adopted(void) {
  DIR *d = opendir("/proc");
  if (!d) return;
  pid_t self = getpid();
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (!isdigit((unsigned char)e->d_name[0])) continue;
    char path[300], buf[512];
    snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) continue;
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    int ppid = 0;
    if (p && sscanf(p + 1, " %*c %d", &ppid) == 1 && ppid == self) kill((pid_t)atoi(e->d_name), SIGKILL);
  }
  closedir(d);
}

/*
 * Before the exit file says the container ended, every process of it has ended and been reaped: a
 * SIGKILL takes a moment to land (longer on a loaded machine), and a process killed but not yet reaped
 * still exists. Kills what is left (the group, adopted orphans) and reaps until there are no children,
 * for at most about a second (a process in uninterruptible sleep cannot hold the exit back for ever).
 */
static void reap_all(pid_t group) {
  for (int round = 0; round < 200; round++) {
    pid_t w;
    while ((w = waitpid(-1, NULL, WNOHANG)) > 0) {
    }
    if (w < 0 && errno == ECHILD) return; /* no children left */
    kill(-group, SIGKILL);
    kill_adopted();
    struct timespec pause = {0, 5 * 1000 * 1000};
    nanosleep(&pause, NULL);
  }
}

static void write_exit_file(const char *path, int status, const struct timespec *finished) {
  int code, signo = 0;
  if (WIFSIGNALED(status)) {
    signo = WTERMSIG(status);
    code = 128 + signo;
  } else {
    code = WEXITSTATUS(status);
  }
  char stamp[TIME_BUF], sig[48], json[256], tmp[PATH_MAX + 8];
  format_time(stamp, finished);
  if (signo == 0) {
    snprintf(sig, sizeof sig, "null");
  } else {
    const char *abbrev = sigabbrev_np(signo);
    if (abbrev) snprintf(sig, sizeof sig, "\"SIG%s\"", abbrev);
    else snprintf(sig, sizeof sig, "\"SIG%d\"", signo);
  }
  int n = snprintf(json, sizeof json, "{\"exitCode\":%d,\"signal\":%s,\"finishedAt\":\"%s\"}\n", code, sig, stamp);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) _exit(1);
  if (write_all(fd, json, (size_t)n) != 0 || fsync(fd) != 0) {
    close(fd);
    unlink(tmp);
    _exit(1);
  }
  close(fd);
  if (rename(tmp, path) != 0) _exit(1);
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash) {
    *(slash == dir ? slash + 1 : slash) = '\0';
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      fsync(dfd);
      close(dfd);
    }
  }
}

/* Writes `text` to `path` atomically (tmp, rename; no fsync: it must survive berth's death, not the
 * machine's, whose reboot ends the container too). -1 with errno on failure. */
static int write_state_file(const char *path, const char *text, size_t len) {
  char tmp[PATH_MAX + 8];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  if (write_all(fd, text, len) != 0) {
    int err = errno;
    close(fd);
    unlink(tmp);
    errno = err;
    return -1;
  }
  close(fd);
  if (rename(tmp, path) != 0) {
    int err = errno;
    unlink(tmp);
    errno = err;
    return -1;
  }
  return 0;
}

/* ---------- start ---------- */

static void usage(void) {
  fail("error: usage: berth-shim --exit-file F --log F --log-max-bytes N --log-max-files K [--state-file F] "
       "[--cwd DIR] [--user NAME|UID] -- argv...");
}

static void parse_options(int argc, char **argv, struct options *o) {
  int i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) {
      i++;
      break;
    }
    if (i + 1 >= argc) usage();
    const char *v = argv[++i];
    if (strcmp(a, "--exit-file") == 0) o->exit_file = v;
    else if (strcmp(a, "--log") == 0) o->log_file = v;
    else if (strcmp(a, "--log-max-bytes") == 0) o->log_max_bytes = strtoull(v, NULL, 10);
    else if (strcmp(a, "--log-max-files") == 0) o->log_max_files = (unsigned)strtoul(v, NULL, 10);
    else if (strcmp(a, "--cwd") == 0) o->cwd = v;
    else if (strcmp(a, "--user") == 0) o->user = v;
    else if (strcmp(a, "--state-file") == 0) o->state_file = v;
    else usage();
  }
  if (i >= argc || !o->exit_file || !o->log_file) usage();
  o->argv = argv + i;
}

struct identity {
  int set;
  uid_t uid;
  gid_t gid;
  char name[256]; /* empty when the user is a bare uid unknown to passwd */
};

/* Resolved before fork, so that a bad user fails the start cleanly. Switching needs root. */
static void resolve_user(const char *spec, struct identity *id) {
  char *end;
  errno = 0;
  unsigned long n = strtoul(spec, &end, 10);
  struct passwd *pw = (*spec && *end == '\0') ? getpwuid((uid_t)n) : getpwnam(spec);
  if (pw) {
    id->uid = pw->pw_uid;
    id->gid = pw->pw_gid;
    snprintf(id->name, sizeof id->name, "%s", pw->pw_name);
  } else if (*spec && *end == '\0') {
    id->uid = (uid_t)n;
    id->gid = (gid_t)n;
    id->name[0] = '\0';
  } else {
    fail("error: user %s: no such user", spec);
  }
  if (geteuid() != 0) {
    if (id->uid != geteuid()) fail("error: user %s: switching user needs berth to run as root", spec);
    return; /* already that user */
  }
  id->set = 1;
}

/* In the forked child: becomes the container, or reports why not through `report` and exits 127. */
static void become_container(const struct options *o, const struct identity *id, int out_w, int err_w,
                             int report, pid_t shim) {
  char msg[1024];
  int n;
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != shim) _exit(127); /* the shim died before PDEATHSIG was armed */
  if (dup2(out_w, 1) < 0 || dup2(err_w, 2) < 0) {
    n = snprintf(msg, sizeof msg, "error: stdio: %s", strerror(errno));
    goto failed;
  }
  int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGCHLD};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) signal(sigs[i], SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  if (o->cwd && chdir(o->cwd) != 0) {
    n = snprintf(msg, sizeof msg, "error: working directory %s: %s", o->cwd, strerror(errno));
    goto failed;
  }
  if (id->set) {
    int rc = id->name[0] ? initgroups(id->name, id->gid) : setgroups(0, NULL);
    if (rc != 0 || setgid(id->gid) != 0 || setuid(id->uid) != 0) {
      n = snprintf(msg, sizeof msg, "error: user %s: %s", o->user, strerror(errno));
      goto failed;
    }
  }
  execvp(o->argv[0], o->argv);
  n = snprintf(msg, sizeof msg, "error: %s: %s", o->argv[0], strerror(errno));
failed:
  if (n < 0) n = 0;
  if ((size_t)n >= sizeof msg) n = (int)sizeof msg - 1;
  (void)write_all(report, msg, (size_t)n);
  _exit(127);
}

static int shim_main(int argc, char **argv) {
  struct options o = {0};
  parse_options(argc, argv, &o);

  /* The shim outlives terminals and readers: only SIGKILL ends it early. */
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, NULL);
  int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) fail("error: signalfd: %s", strerror(errno));
  prctl(PR_SET_CHILD_SUBREAPER, 1); /* daemons that leave the group stay ours, to count and to end */

  struct identity id = {0};
  if (o.user) resolve_user(o.user, &id);
  if (id.set) {
    log_chown = 1;
    log_uid = id.uid;
    log_gid = id.gid;
  }

  mkdir_parents(o.exit_file);
  mkdir_parents(o.log_file);

  /* A stale exit file (a reused state dir) would report this container as ended. */
  char stale[PATH_MAX + 8];
  snprintf(stale, sizeof stale, "%s.tmp", o.exit_file);
  unlink(stale);
  if (unlink(o.exit_file) != 0 && errno != ENOENT) fail("error: exit file %s: %s", o.exit_file, strerror(errno));
  if (o.state_file) {
    mkdir_parents(o.state_file);
    snprintf(stale, sizeof stale, "%s.tmp", o.state_file);
    unlink(stale);
    unlink(o.state_file);
  }

  out_log.path = o.log_file;
  out_log.max_bytes = o.log_max_bytes;
  out_log.max_files = o.log_max_files;
  /* The log file is created with the first line (log_record opens it): a container that writes
   * nothing costs no file, and a start costs one metadata operation less. Its directory exists. */
  out_log.fd = -1;

  int outp[2], errp[2], report[2];
  if (pipe2(outp, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0 || pipe2(report, O_CLOEXEC) != 0)
    fail("error: pipe: %s", strerror(errno));
  pid_t shim = getpid();
  pid_t pid = fork();
  if (pid < 0) fail("error: fork: %s", strerror(errno));
  if (pid == 0) become_container(&o, &id, outp[1], errp[1], report[1], shim);

  setpgid(pid, pid); /* also here, so that the group exists whichever of us runs first */
  close(outp[1]);
  close(errp[1]);
  close(report[1]);
  char msg[1024];
  size_t mlen = 0;
  for (;;) { /* EOF without bytes: execvp succeeded (the pipe is close-on-exec) */
    ssize_t n = read(report[0], msg + mlen, sizeof msg - 1 - mlen);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    mlen += (size_t)n;
    if (mlen >= sizeof msg - 1) break;
  }
  close(report[0]);
  if (mlen > 0) {
    msg[mlen] = '\0';
    waitpid(pid, NULL, 0);
    fail("%s", msg);
  }

  /* The child is not reaped before this read, so its /proc entry is still there even if it exited. */
  char line[128];
  int ln = snprintf(line, sizeof line, "%d %llu %d %llu\n", (int)pid, read_start_ticks(pid), (int)shim,
                    read_start_ticks(shim));
  /* The state file before the report: a berth that dies before it reads the report finds us by it. A
   * container no record names would be a leak, so one whose state file cannot be written does not run. */
  if (o.state_file && write_state_file(o.state_file, line, (size_t)ln) != 0) {
    int err = errno;
    kill(-pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fail("error: state file %s: %s", o.state_file, strerror(err));
  }
  (void)write_all(1, line, (size_t)ln); /* a reader gone is fine: EPIPE, SIGPIPE is ignored */
  int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (devnull >= 0) {
    dup2(devnull, 1);
    close(devnull);
  }

  streams[0].fd = outp[0];
  streams[0].name = "stdout";
  streams[1].fd = errp[0];
  streams[1].name = "stderr";
  for (int i = 0; i < 2; i++) fcntl(streams[i].fd, F_SETFL, fcntl(streams[i].fd, F_GETFL) | O_NONBLOCK);

  int exited = 0, status = 0;
  struct timespec finished = {0};
  long long deadline = 0;
  for (;;) {
    struct pollfd pfd[3];
    int idx[3], nfds = 0;
    for (int i = 0; i < 2; i++) {
      if (streams[i].fd < 0) continue;
      pfd[nfds] = (struct pollfd){.fd = streams[i].fd, .events = POLLIN};
      idx[nfds++] = i;
    }
    if (exited && nfds == 0) break;
    pfd[nfds] = (struct pollfd){.fd = sfd, .events = POLLIN};
    idx[nfds++] = -1;
    int timeout = -1;
    if (exited) {
      long long left = deadline - now_ms();
      if (left <= 0) break;
      timeout = (int)left;
    }
    int r = poll(pfd, (nfds_t)nfds, timeout);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int k = 0; k < nfds; k++) {
      if (!(pfd[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      if (idx[k] >= 0) {
        stream_read(&streams[idx[k]]);
        continue;
      }
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) > 0) {
      }
      int st;
      pid_t w;
      while ((w = waitpid(-1, &st, WNOHANG)) > 0) {
        if (w != pid || exited) continue; /* an adopted orphan */
        exited = 1;
        status = st;
        clock_gettime(CLOCK_REALTIME, &finished);
        deadline = now_ms() + DRAIN_MS;
        kill(-pid, SIGKILL); /* what is left of the container ends with it */
        kill_adopted();
      }
    }
  }
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  char stamp[TIME_BUF];
  format_time(stamp, &ts);
  for (int i = 0; i < 2; i++)
    if (streams[i].fd >= 0) stream_close(&streams[i], stamp);
  reap_all(pid);
  if (out_log.fd >= 0) close(out_log.fd);
  write_exit_file(o.exit_file, status, &finished);
  return 0;
}

/* ---------- launcher mode ---------- */

/*
 * `berth-shim --launcher`: one long-lived helper per berth server that starts shims on request, because
 * forking the tiny launcher costs ~0.1 ms where forking the Node.js server costs ~5 ms.
 *
 * Request on stdin:  "<id> <nargs> <nenv> <bytes>\n" then <bytes> bytes holding nargs shim arguments and
 *                    then nenv "KEY=VALUE" entries, each NUL-terminated.
 * Reply on stdout:   "<id> <shim report line>\n", in completion order (the report is the line the shim
 *                    prints: "<pid> <startTicks> <shimPid> <shimStartTicks>" or "error: ...").
 * Each shim is forked into a session of its own (the launcher ignores SIGCHLD, so none becomes a zombie);
 * the launcher exits when stdin ends (berth is gone); the shims run on. Before it exits, it waits for the
 * report of every shim it started and berth has not heard of (finish_pending): so once an old launcher
 * is gone, every shim it started has either written its state file or ended. Those containers are left
 * for the next berth to adopt when the launcher is tagged (`--exit-dir`), and killed otherwise.
 * The launcher's process name is berth-launcher, its shims' berth-shim; both keep its command line
 * (`--launcher` and the tag berth gave it).
 */

struct pending {
  long long id;
  int fd;
  size_t len;
  char buf[1024];
};

static struct pending *pend;
static size_t npend, cap_pend;

static void reply(long long id, const char *text, size_t len) {
  char head[32];
  int hn = snprintf(head, sizeof head, "%lld ", id);
  while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\0')) len--;
  char clean[1024];
  if (len > sizeof clean) len = sizeof clean;
  for (size_t i = 0; i < len; i++) clean[i] = text[i] == '\n' ? ' ' : text[i];
  if (len == 0) {
    const char *lost = "error: berth-shim ended before reporting";
    len = strlen(lost);
    memcpy(clean, lost, len);
  }
  struct iovec iov[3] = {{head, (size_t)hn}, {clean, len}, {"\n", 1}};
  if (writev_all(1, iov, 3) != 0) _exit(0); /* berth is gone */
}

static void close_from(int lowfd) {
  if (close_range((unsigned)lowfd, ~0U, 0) == 0) return;
  long max = sysconf(_SC_OPEN_MAX);
  for (int fd = lowfd; fd < (max > 0 ? max : 1024); fd++) close(fd);
}

/* Starts one shim with `args` (after argv[0]) and `env`; its report arrives later on the returned fd. */
static void launch(long long id, char **args, int nargs, char **env) {
  int res[2];
  if (pipe2(res, O_CLOEXEC) != 0) {
    char msg[256];
    int n = snprintf(msg, sizeof msg, "error: pipe: %s", strerror(errno));
    reply(id, msg, (size_t)n);
    return;
  }
  /* One fork, not waited for: the launcher ignores SIGCHLD, so the kernel reaps shims that end while it
   * lives, and those alive when it exits are adopted by init. Not waiting keeps a burst of starts
   * parallel: the shims re-exec, open their logs and fork their containers on every core at once. */
  pid_t shim = fork();
  if (shim == 0) {
    setsid();
    int devnull = open("/dev/null", O_RDWR);
    dup2(res[1], 1);
    if (devnull >= 0) {
      dup2(devnull, 0);
      dup2(devnull, 2);
    }
    close_from(3);
    for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL);
    environ = env;
    args[-1] = "berth-shim"; /* the slot before args is reserved for argv[0] */
    /* Runs in place, without a re-exec (which costs ~0.4 ms a start, a third of a shim's start-up): the
     * process name becomes "berth-shim" (PR_SET_NAME); /proc/PID/cmdline still reads "--launcher", and
     * the container itself is visible as the shim's child. */
    prctl(PR_SET_NAME, "berth-shim");
    _exit(shim_main(nargs + 1, args - 1));
  }
  close(res[1]);
  if (shim < 0) {
    char msg[256];
    int n = snprintf(msg, sizeof msg, "error: fork: %s", strerror(errno));
    close(res[0]);
    reply(id, msg, (size_t)n);
    return;
  }
  if (npend == cap_pend) {
    cap_pend = cap_pend ? cap_pend * 2 : 16;
    pend = realloc(pend, cap_pend * sizeof *pend);
    if (!pend) _exit(1);
  }
  fcntl(res[0], F_SETFL, fcntl(res[0], F_GETFL) | O_NONBLOCK);
  pend[npend++] = (struct pending){.id = id, .fd = res[0], .len = 0};
}

/* Parses every complete request at the start of `in`; returns how many bytes it consumed. */
static size_t serve_requests(char *in, size_t len) {
  size_t used = 0;
  for (;;) {
    char *nl = memchr(in + used, '\n', len - used);
    if (!nl) return used;
    long long id;
    int nargs, nenv;
    size_t bytes;
    *nl = '\0';
    if (sscanf(in + used, "%lld %d %d %zu", &id, &nargs, &nenv, &bytes) != 4 || nargs < 0 || nenv < 0) _exit(2);
    size_t body = (size_t)(nl - in) + 1;
    if (len - body < bytes) {
      *nl = '\n';
      return used;
    }
    /* argv slot 0 reserved, args, NULL, env, NULL */
    char **vec = calloc((size_t)nargs + (size_t)nenv + 3, sizeof *vec);
    if (!vec) _exit(1);
    char *p = in + body, *end = in + body + bytes;
    int ok = 1;
    for (int i = 0; i < nargs + nenv && ok; i++) {
      char *z = memchr(p, '\0', (size_t)(end - p));
      if (!z) ok = 0;
      else {
        vec[i < nargs ? 1 + i : 2 + i] = p;
        p = z + 1;
      }
    }
    if (!ok || nargs == 0) {
      const char *bad = "error: malformed launch request";
      reply(id, bad, strlen(bad));
    } else {
      launch(id, vec + 1, nargs, vec + nargs + 2);
    }
    free(vec);
    used = body + bytes;
  }
}

/*
 * Berth is gone with starts in flight: waits for the report of each (so every shim has written its
 * state file, or ended). Untagged (no --exit-dir: no records a later berth could find), no one would
 * ever stop those containers, so they are killed; tagged, they are left for the next berth to adopt.
 */
static void finish_pending(int kill_them) {
  for (size_t i = 0; i < npend; i++) {
    struct pending *pd = &pend[i];
    fcntl(pd->fd, F_SETFL, fcntl(pd->fd, F_GETFL) & ~O_NONBLOCK);
    for (;;) {
      if (memchr(pd->buf, '\n', pd->len) || pd->len == sizeof pd->buf) break;
      ssize_t n = read(pd->fd, pd->buf + pd->len, sizeof pd->buf - pd->len);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      pd->len += (size_t)n;
    }
    close(pd->fd);
    int pid = 0;
    if (kill_them && pd->len > 0 && pd->len < sizeof pd->buf) {
      pd->buf[pd->len] = '\0';
      if (sscanf(pd->buf, "%d ", &pid) == 1 && pid > 1) kill(-pid, SIGKILL);
    }
  }
  npend = 0;
}

static int launcher_main(int tagged) {
  /* Shims take the name berth-shim (see launch); the launcher's own name tells it apart from them. */
  prctl(PR_SET_NAME, "berth-launcher");
  signal(SIGCHLD, SIG_IGN); /* shims that end while the launcher lives are reaped by the kernel */
  signal(SIGPIPE, SIG_IGN);
  signal(SIGINT, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  size_t cap = 1 << 16, len = 0;
  char *in = malloc(cap);
  if (!in) return 1;
  for (;;) {
    struct pollfd *pfd = calloc(npend + 1, sizeof *pfd);
    if (!pfd) return 1;
    pfd[0] = (struct pollfd){.fd = 0, .events = POLLIN};
    for (size_t i = 0; i < npend; i++) pfd[i + 1] = (struct pollfd){.fd = pend[i].fd, .events = POLLIN};
    int r = poll(pfd, npend + 1, -1);
    if (r < 0) {
      free(pfd);
      if (errno == EINTR) continue;
      return 1;
    }
    /* Reports first: they free slots and are what berth awaits. */
    for (size_t i = npend; i-- > 0;) {
      if (!(pfd[i + 1].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      struct pending *pd = &pend[i];
      ssize_t n;
      do n = read(pd->fd, pd->buf + pd->len, sizeof pd->buf - pd->len);
      while (n < 0 && errno == EINTR);
      if (n < 0 && errno == EAGAIN) continue;
      if (n > 0) pd->len += (size_t)n;
      if (n > 0 && !memchr(pd->buf, '\n', pd->len) && pd->len < sizeof pd->buf) continue;
      char *nl = memchr(pd->buf, '\n', pd->len);
      reply(pd->id, pd->buf, nl ? (size_t)(nl - pd->buf) : pd->len);
      close(pd->fd);
      pend[i] = pend[--npend];
    }
    short in_events = pfd[0].revents;
    free(pfd);
    if (in_events & (POLLIN | POLLHUP | POLLERR)) {
      if (len == cap) {
        cap *= 2;
        in = realloc(in, cap);
        if (!in) return 1;
      }
      ssize_t n;
      do n = read(0, in + len, cap - len);
      while (n < 0 && errno == EINTR);
      if (n <= 0) { /* berth is gone or done: running shims stay, and so do starts in flight if tagged */
        finish_pending(!tagged);
        return 0;
      }
      len += (size_t)n;
      size_t used = serve_requests(in, len);
      memmove(in, in + used, len - used);
      len -= used;
    }
  }
}

int main(int argc, char **argv) {
  /* Arguments after --launcher are a tag only: berth passes `--exit-dir DIR`, which every shim keeps in
   * its /proc/PID/cmdline (shims are forked without an exec), so that a restarted berth finds them. */
  if (argc >= 2 && strcmp(argv[1], "--launcher") == 0) return launcher_main(argc > 2);
  return shim_main(argc, argv);
}
