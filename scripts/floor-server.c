/* The floor of a Redis-like server's cost on this machine: the least work an epoll server can
   do per RESP request (scripts/bench-floor). One thread, level-triggered epoll, one read and
   one write per wake-up, no parsing: each '*' read is answered with one 32-byte bulk string.
   Not a server: it understands nothing, and serves redis-benchmark's GET test only. */
#define _GNU_SOURCE
#include <sys/epoll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>
#include <fcntl.h>
#include <string.h>
#include <stdlib.h>
#include <stdio.h>
static const char R[] = "$32\r\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n";
int main(int argc, char **argv) {
  int port = atoi(argv[1]);
  int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {0}; a.sin_family = AF_INET; a.sin_port = htons(port); a.sin_addr.s_addr = htonl(0x7f000001);
  if (bind(ls, (void*)&a, sizeof a) || listen(ls, 512)) { perror("bind"); return 1; }
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls}, evs[256];
  epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
  static char in[65536], out[1 << 20];
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == ls) {
        int c = accept4(ls, 0, 0, SOCK_NONBLOCK);
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct epoll_event e = {.events = EPOLLIN, .data.fd = c};
        epoll_ctl(ep, EPOLL_CTL_ADD, c, &e);
        continue;
      }
      ssize_t r = read(fd, in, sizeof in);
      if (r <= 0) { close(fd); continue; }
      size_t o = 0;
      for (ssize_t j = 0; j < r; j++)
        if (in[j] == '*') { memcpy(out + o, R, sizeof R - 1); o += sizeof R - 1; }
      if (o) write(fd, out, o);
    }
  }
}
