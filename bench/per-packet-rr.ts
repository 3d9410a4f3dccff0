// The request/response tool of bench/per-packet.ts: a tiny C program (compiled with gcc into the bench's temp
// dir at start-up) because a Node client would measure Node, not the kernel's per-packet path.
//
//   pprr server PORT              accept connections one at a time; echo each byte back until EOF
//   pprr rr IP PORT SECONDS       TCP_RR: one connection, 1-byte request / 1-byte response; prints transactions/s
//   pprr crr IP PORT SECONDS      TCP_CRR: connect, 1 byte each way, close, in a loop; prints connections/s
//   pprr probe IP PORT            one connect with a 500 ms limit; prints ok / refused / timeout
//
// The clients (rr, crr) run one at a time, so the server needs no concurrency.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const RR_SOURCE = String.raw`
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static struct sockaddr_in addr(const char *ip, const char *port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)atoi(port));
  if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) { fprintf(stderr, "bad address %s\n", ip); exit(2); }
  return a;
}

static void nodelay(int fd) { int one = 1; setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); }

static int server(const char *port) {
  int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = addr("0.0.0.0", port);
  if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 1024)) { perror("bind/listen"); return 1; }
  printf("listening\n");
  fflush(stdout);
  for (;;) {
    int c = accept(ls, NULL, NULL);
    if (c < 0) continue;
    nodelay(c);
    char b;
    while (read(c, &b, 1) == 1) if (write(c, &b, 1) != 1) break;
    close(c);
  }
}

static int rr(const char *ip, const char *port, double secs) {
  struct sockaddr_in a = addr(ip, port);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(fd, (struct sockaddr *)&a, sizeof a)) { perror("connect"); return 1; }
  nodelay(fd);
  char b = 'x';
  long n = 0;
  double t0 = now(), end = t0 + secs, t;
  while ((t = now()) < end) {
    if (write(fd, &b, 1) != 1 || read(fd, &b, 1) != 1) { perror("rr"); return 1; }
    n++;
  }
  close(fd);
  printf("%.1f\n", n / (t - t0));
  return 0;
}

static int crr(const char *ip, const char *port, double secs) {
  struct sockaddr_in a = addr(ip, port);
  char b = 'x';
  long n = 0, errs = 0;
  double t0 = now(), end = t0 + secs, t;
  while ((t = now()) < end) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
      nodelay(fd);
      if (write(fd, &b, 1) == 1 && read(fd, &b, 1) == 1) n++; else errs++;
    } else errs++;
    close(fd);
    if (errs > 1000) { fprintf(stderr, "crr: too many errors (last: %s)\n", strerror(errno)); return 1; }
  }
  printf("%.1f %ld\n", n / (t - t0), errs);
  return 0;
}

static int probe(const char *ip, const char *port) {
  struct sockaddr_in a = addr(ip, port);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  fcntl(fd, F_SETFL, O_NONBLOCK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) { printf("ok\n"); return 0; }
  if (errno != EINPROGRESS) { printf("error %s\n", strerror(errno)); return 0; }
  struct pollfd p = { fd, POLLOUT, 0 };
  if (poll(&p, 1, 500) == 0) { printf("timeout\n"); return 0; }
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  printf("%s\n", err == 0 ? "ok" : err == ECONNREFUSED ? "refused" : strerror(err));
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "server")) return server(argv[2]);
  if (argc == 5 && !strcmp(argv[1], "rr")) return rr(argv[2], argv[3], atof(argv[4]));
  if (argc == 5 && !strcmp(argv[1], "crr")) return crr(argv[2], argv[3], atof(argv[4]));
  if (argc == 4 && !strcmp(argv[1], "probe")) return probe(argv[2], argv[3]);
  fprintf(stderr, "usage: pprr server PORT | rr|crr IP PORT SECONDS | probe IP PORT\n");
  return 2;
}
`;

/** Compiles the tool into dir; returns the binary's path. */
export function buildRrTool(dir: string): string {
  const src = join(dir, 'pprr.c');
  const bin = join(dir, 'pprr');
  writeFileSync(src, RR_SOURCE);
  execFileSync('gcc', ['-O2', '-Wall', '-o', bin, src], { stdio: ['ignore', 'inherit', 'inherit'] });
  return bin;
}
