// palisade-cni, the native shim. A runtime execs the CNI plugin for every pod, and Node alone takes ~27 ms to
// start, more than the reference plugins' whole ADD. So the binary a runtime execs is this: it reads the
// invocation (CNI_* environment and the config on stdin), hands it to the node agent over the agent's socket,
// and the agent runs the plugin in its already-running process (src/agent/cni-inprocess.ts). When the config
// names no agent socket, or the agent cannot be reached, it execs the Node plugin (palisade-cni-node, next to
// it) with the same environment and stdin, which behaves exactly as before.
//
// Wire format (one connection per invocation):
//   request:  {"op":"cni","env":{"CNI_COMMAND":"ADD",...},"stdin":"<the config, JSON-escaped>"}\n
//   answer:   <exit code>\n<the plugin's stdout, verbatim>   (then the agent closes the connection)
#define _GNU_SOURCE
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEFAULT_SOCKET "/run/palisade/cni.sock"
#define FALLBACK "palisade-cni-node"
#define NODE_BINARY "palisade-node"
#define ANSWER_TIMEOUT_S 300

struct buf {
  char *data;
  size_t len, cap;
};

static void put(struct buf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (b->len + n + 1 > cap) cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) {
      perror("palisade-cni: out of memory");
      exit(2);
    }
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

static void puts_(struct buf *b, const char *s) { put(b, s, strlen(s)); }

static void read_all(int fd, struct buf *b) {
  char chunk[65536];
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    put(b, chunk, (size_t)n);
  }
  if (!b->data) put(b, "", 0);
}

/** Appends s as a JSON string literal. */
static void put_json_string(struct buf *b, const char *s, size_t n) {
  puts_(b, "\"");
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    char esc[8];
    if (c == '"' || c == '\\') {
      esc[0] = '\\';
      esc[1] = (char)c;
      put(b, esc, 2);
    } else if (c < 0x20) {
      snprintf(esc, sizeof esc, "\\u%04x", c);
      put(b, esc, 6);
    } else {
      put(b, (const char *)&s[i], 1);
    }
  }
  puts_(b, "\"");
}

/**
 * The string value of the first "key": "value" in a JSON text, unescaped (\" \\ \/ only), or NULL. Enough for
 * the two plain keys read here (agentSocket, mode), which the config's parser validates again in the agent.
 */
static char *json_string_value(const char *json, const char *key) {
  char pattern[64];
  snprintf(pattern, sizeof pattern, "\"%s\"", key);
  const char *p = strstr(json, pattern);
  if (!p) return NULL;
  p += strlen(pattern);
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  if (*p != ':') return NULL;
  p++;
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  if (*p != '"') return NULL;
  p++;
  struct buf out = {0};
  while (*p && *p != '"') {
    if (*p == '\\' && (p[1] == '"' || p[1] == '\\' || p[1] == '/')) p++;
    else if (*p == '\\') return NULL; // other escapes: not a plain path
    put(&out, p, 1);
    p++;
  }
  if (*p != '"') return NULL;
  if (!out.data) put(&out, "", 0);
  return out.data;
}

static void cni_error(int code, const char *msg, const char *details) {
  struct buf b = {0};
  puts_(&b, "{\"cniVersion\":\"1.0.0\",\"code\":");
  char num[16];
  snprintf(num, sizeof num, "%d", code);
  puts_(&b, num);
  puts_(&b, ",\"msg\":");
  put_json_string(&b, msg, strlen(msg));
  if (details && *details) {
    puts_(&b, ",\"details\":");
    put_json_string(&b, details, strlen(details));
  }
  puts_(&b, "}\n");
  (void)!write(1, b.data, b.len);
  exit(1);
}

/**
 * Execs the Node plugin beside this binary, its stdin fed from `in` by a child. When install-cni put a Node
 * runtime beside it too (palisade-node), the plugin runs on that one: a node's host need not have Node.
 */
static void fallback(char **argv, const struct buf *in) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) cni_error(999, "palisade-cni: cannot find its own path", strerror(errno));
  self[n] = '\0';
  char path[PATH_MAX];
  char node[PATH_MAX];
  const char *dir = dirname(self);
  snprintf(path, sizeof path, "%s/%s", dir, FALLBACK);
  snprintf(node, sizeof node, "%s/%s", dir, NODE_BINARY);
  int fds[2];
  if (pipe(fds) != 0) cni_error(999, "palisade-cni: pipe failed", strerror(errno));
  pid_t pid = fork();
  if (pid < 0) cni_error(999, "palisade-cni: fork failed", strerror(errno));
  if (pid == 0) {
    close(fds[0]);
    for (size_t off = 0; off < in->len;) {
      ssize_t w = write(fds[1], in->data + off, in->len - off);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) break;
      off += (size_t)w;
    }
    _exit(0);
  }
  close(fds[1]);
  dup2(fds[0], 0);
  close(fds[0]);
  if (access(node, X_OK) == 0) {
    int n = 0;
    while (argv[n]) n++;
    char **args = calloc((size_t)n + 2, sizeof *args);
    if (!args) cni_error(999, "palisade-cni: out of memory", NULL);
    args[0] = node;
    args[1] = path;
    for (int i = 1; i < n; i++) args[i + 1] = argv[i];
    // NODE_EXTRA_CA_CERTS would cost ~45 ms of start-up for a plugin that makes no TLS connection to a custom CA.
    unsetenv("NODE_EXTRA_CA_CERTS");
    execv(node, args);
  }
  argv[0] = path;
  execv(path, argv);
  cni_error(50, "palisade-cni: cannot run the Node plugin " FALLBACK " beside the shim", strerror(errno));
}

static const char *const ENV_KEYS[] = {"CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME",
                                       "CNI_ARGS",    "CNI_PATH",        NULL};

int main(int argc, char **argv) {
  (void)argc;
  struct buf in = {0};
  read_all(0, &in);
  char *sock_path = json_string_value(in.data, "agentSocket");
  char *mode = json_string_value(in.data, "mode");
  const char *command = getenv("CNI_COMMAND");
  // Redirect mode always has an agent (its default socket); routed mode only when the config names one.
  if (!sock_path && mode && strcmp(mode, "redirect") == 0) sock_path = strdup(DEFAULT_SOCKET);
  if (!sock_path || !command || strcmp(command, "VERSION") == 0) fallback(argv, &in);

  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(sock_path) >= sizeof addr.sun_path) fallback(argv, &in);
  strcpy(addr.sun_path, sock_path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    if (fd >= 0) close(fd);
    fallback(argv, &in); // the agent is away: the Node plugin decides (and says so)
  }
  struct timeval tv = {.tv_sec = ANSWER_TIMEOUT_S};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

  struct buf req = {0};
  puts_(&req, "{\"op\":\"cni\",\"env\":{");
  int first = 1;
  for (const char *const *k = ENV_KEYS; *k; k++) {
    const char *v = getenv(*k);
    if (!v) continue;
    if (!first) puts_(&req, ",");
    first = 0;
    put_json_string(&req, *k, strlen(*k));
    puts_(&req, ":");
    put_json_string(&req, v, strlen(v));
  }
  puts_(&req, "},\"stdin\":");
  put_json_string(&req, in.data, in.len);
  puts_(&req, "}\n");
  for (size_t off = 0; off < req.len;) {
    ssize_t w = write(fd, req.data + off, req.len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) cni_error(11, "palisade-cni: the palisade agent closed its socket", sock_path);
    off += (size_t)w;
  }

  struct buf ans = {0};
  read_all(fd, &ans);
  close(fd);
  char *nl = memchr(ans.data, '\n', ans.len);
  if (!nl) cni_error(11, "palisade-cni: the palisade agent gave no answer (try again)", sock_path);
  *nl = '\0';
  char *end = NULL;
  long code = strtol(ans.data, &end, 10);
  if (end == ans.data || *end != '\0' || code < 0 || code > 255)
    cni_error(11, "palisade-cni: the palisade agent's answer is malformed", sock_path);
  size_t body = ans.len - (size_t)(nl + 1 - ans.data);
  for (size_t off = 0; off < body;) {
    ssize_t w = write(1, nl + 1 + off, body - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    off += (size_t)w;
  }
  return (int)code;
}
