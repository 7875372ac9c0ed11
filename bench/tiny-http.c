/* A minimal HTTP server for benchmarks: binds $BIND:$PORT, answers every request with "ok".
 * Both sides of the convergence benchmark start this same program, so the ratio measures the
 * orchestrator, not the program. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
  const char *bind_ip = getenv("BIND") ? getenv("BIND") : "127.0.0.1";
  int port = getenv("PORT") ? atoi(getenv("PORT")) : 8080;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {0};
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)port);
  inet_pton(AF_INET, bind_ip, &addr.sin_addr);
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 128) < 0) {
    perror("bind/listen");
    return 1;
  }
  static const char reply[] = "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n";
  char buf[4096];
  for (;;) {
    int c = accept(fd, NULL, NULL);
    if (c < 0) continue;
    if (read(c, buf, sizeof buf) > 0) {
      ssize_t w = write(c, reply, sizeof reply - 1);
      (void)w;
    }
    close(c);
  }
}
