// palisade-native.node: the agent's two kernel interfaces without a child process per operation.
//
//   netlink:  a netlink socket (route or netfilter) opened in a given network namespace, and request/answer
//             exchanges on it, on a libuv worker thread.
//             The messages themselves are built and read in TypeScript (src/dataplane/netlink/); this file only
//             moves bytes, so everything that decides stays testable where the rest of the code is.
//   nft:      libnftables (Debian's libnftables1), the library the `nft` command is a thin wrapper of. A context
//             keeps its netlink socket between transactions, so a transaction costs neither a process start nor
//             the kernel's wait at the socket's close. A transaction runs on a libuv worker thread.
//
// Network namespaces: a socket belongs to the namespace of the thread that created it. To work in another
// namespace the calling thread enters it (setns), creates the socket (or runs the transaction) and returns to
// its own before anything else can run on it. On the main thread that is one synchronous call.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <malloc.h>
#include <nftables/libnftables.h>
#include <node_api.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define CHECK(call)                                                                                          \
  do {                                                                                                       \
    if ((call) != napi_ok) {                                                                                 \
      napi_throw_error(env, NULL, "palisade-native: N-API call failed: " #call);                             \
      return NULL;                                                                                           \
    }                                                                                                        \
  } while (0)

/** An Error "<what>: <strerror>" with `code` (ENOENT, ...) and `errno` set, as Node's own system errors have. */
static napi_value errno_error(napi_env env, const char *what, int err) {
  char msg[512];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value code, message, error, errnum;
  napi_create_string_utf8(env, strerrorname_np(err) ? strerrorname_np(err) : "EUNKNOWN", NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, err, &errnum);
  napi_set_named_property(env, error, "errno", errnum);
  return error;
}

static napi_value throw_errno(napi_env env, const char *what, int err) {
  napi_throw(env, errno_error(env, what, err));
  return NULL;
}

/** Enters the namespace at `path` (NULL: stay); returns the fd of the thread's own namespace, or -errno. */
static int enter_netns(const char *path) {
  if (!path) return -EBADF - 1000; // sentinel: nothing to restore
  int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0) return -errno;
  int target = open(path, O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    int e = errno;
    close(self);
    return -e;
  }
  int rc = setns(target, CLONE_NEWNET);
  int e = errno;
  close(target);
  if (rc < 0) {
    close(self);
    return -e;
  }
  return self;
}

/** Returns the thread to its own namespace. Failing to is unrecoverable: the thread would act elsewhere. */
static void leave_netns(int self) {
  if (self < 0) return;
  if (setns(self, CLONE_NEWNET) < 0) abort();
  close(self);
}

/** Reads an optional string argument (undefined or null: NULL). The caller frees. */
static char *optional_string(napi_env env, napi_value v) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t == napi_undefined || t == napi_null) return NULL;
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *s = malloc(len + 1);
  if (!s) return NULL;
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

// ---- netlink ----

/**
 * netlinkOpen(netnsPath?: string, protocol?: number): number — a netlink socket of that protocol (default
 * NETLINK_ROUTE; NETLINK_NETFILTER for conntrack) in that namespace (default: this one).
 */
static napi_value netlink_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char *path = argc > 0 ? optional_string(env, argv[0]) : NULL;
  int32_t protocol = NETLINK_ROUTE;
  if (argc > 1) {
    napi_valuetype t;
    CHECK(napi_typeof(env, argv[1], &t));
    if (t == napi_number) CHECK(napi_get_value_int32(env, argv[1], &protocol));
  }
  if (protocol != NETLINK_ROUTE && protocol != NETLINK_NETFILTER) {
    free(path);
    return throw_errno(env, "netlink protocol (route or netfilter only)", EPROTONOSUPPORT);
  }
  int self = enter_netns(path);
  if (path && self < 0) {
    free(path);
    return throw_errno(env, "enter network namespace", -self);
  }
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
  int e = errno;
  leave_netns(path ? self : -1);
  free(path);
  if (fd < 0) return throw_errno(env, "netlink socket", e);
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    e = errno;
    close(fd);
    return throw_errno(env, "netlink bind", e);
  }
  int one = 1;
  // The kernel answers a route-netlink request at once; a request it never acknowledges (one sent without
  // NLM_F_ACK) must not hang the agent's thread: the receive gives up after 5 s.
  struct timeval limit = {.tv_sec = 5};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  napi_value out;
  CHECK(napi_create_int32(env, fd, &out));
  return out;
}

/**
 * Sends `count` requests (one buffer, consecutive sequence numbers from the first's, each asking for an ack) on
 * `fd` and collects every message the kernel answers with those sequence numbers, up to and including the
 * NLMSG_ERROR (ack or error) or NLMSG_DONE that ends each, concatenated into *out (the caller frees). The kernel
 * processes the requests in order and answers each, failed or not. Returns 0, or an errno.
 */
static int exchange(int fd, const void *req, size_t req_len, uint32_t count, char **out, size_t *out_len) {
  *out = NULL;
  *out_len = 0;
  if (req_len < sizeof(struct nlmsghdr) || count == 0) return EINVAL;
  uint32_t seq = ((const struct nlmsghdr *)req)->nlmsg_seq;
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  ssize_t n;
  do n = sendto(fd, req, req_len, 0, (struct sockaddr *)&kernel, sizeof kernel);
  while (n < 0 && errno == EINTR);
  if (n < 0) return errno;
  size_t cap = 65536, len = 0;
  char *buf = malloc(cap);
  char *chunk = malloc(65536);
  if (!buf || !chunk) {
    free(buf);
    free(chunk);
    return ENOMEM;
  }
  uint32_t done = 0;
  while (done < count) {
    do n = recv(fd, chunk, 65536, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
      int e = errno;
      free(buf);
      free(chunk);
      return e;
    }
    for (struct nlmsghdr *h = (struct nlmsghdr *)chunk; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq - seq >= count) continue; // an answer to an earlier, abandoned request
      size_t size = NLMSG_ALIGN(h->nlmsg_len);
      if (len + size > cap) {
        while (len + size > cap) cap *= 2;
        char *grown = realloc(buf, cap);
        if (!grown) {
          free(buf);
          free(chunk);
          return ENOMEM;
        }
        buf = grown;
      }
      memcpy(buf + len, h, h->nlmsg_len);
      memset(buf + len + h->nlmsg_len, 0, size - h->nlmsg_len);
      len += size;
      if (h->nlmsg_type == NLMSG_ERROR || h->nlmsg_type == NLMSG_DONE) done++;
    }
  }
  free(chunk);
  *out = buf;
  *out_len = len;
  return 0;
}

struct exchange_job {
  int fd;
  uint32_t count;
  char *req;
  size_t req_len;
  char *out;
  size_t out_len;
  int err;
  napi_deferred deferred;
  napi_async_work work;
};

static void exchange_job_execute(napi_env env, void *data) {
  (void)env;
  struct exchange_job *j = data;
  j->err = exchange(j->fd, j->req, j->req_len, j->count, &j->out, &j->out_len);
}

static void exchange_job_complete(napi_env env, napi_status status, void *data) {
  struct exchange_job *j = data;
  if (status == napi_ok && j->err == 0) {
    napi_value buf;
    void *copy;
    napi_create_buffer_copy(env, j->out_len, j->out, &copy, &buf);
    napi_resolve_deferred(env, j->deferred, buf);
  } else {
    napi_reject_deferred(env, j->deferred, errno_error(env, "netlink exchange", j->err ? j->err : EIO));
  }
  napi_delete_async_work(env, j->work);
  free(j->req);
  free(j->out);
  free(j);
}

/**
 * netlinkExchangeAsync(fd: number, requests: Buffer, count = 1): Promise<Buffer> — exchange() of `count`
 * requests on a libuv worker thread, for requests the kernel may take a while to acknowledge (making a veth,
 * deleting a link) without holding up the agent's event loop. One exchange per socket at a time (the caller's).
 */
static napi_value netlink_exchange_async(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct exchange_job *j = calloc(1, sizeof *j);
  if (!j) return throw_errno(env, "netlink exchange", ENOMEM);
  j->count = 1;
  if (argc > 2) {
    napi_valuetype t;
    if (napi_typeof(env, argv[2], &t) == napi_ok && t == napi_number) napi_get_value_uint32(env, argv[2], &j->count);
  }
  if (j->count == 0 || j->count > 1024) {
    free(j);
    napi_throw_range_error(env, NULL, "netlinkExchangeAsync: count must be 1..1024");
    return NULL;
  }
  void *req;
  if (napi_get_value_int32(env, argv[0], &j->fd) != napi_ok ||
      napi_get_buffer_info(env, argv[1], &req, &j->req_len) != napi_ok) {
    free(j);
    napi_throw_type_error(env, NULL, "netlinkExchangeAsync(fd, buffer)");
    return NULL;
  }
  j->req = malloc(j->req_len ? j->req_len : 1);
  if (!j->req) {
    free(j);
    return throw_errno(env, "netlink exchange", ENOMEM);
  }
  memcpy(j->req, req, j->req_len);
  napi_value promise, name;
  CHECK(napi_create_promise(env, &j->deferred, &promise));
  CHECK(napi_create_string_utf8(env, "palisade-netlink", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_create_async_work(env, NULL, name, exchange_job_execute, exchange_job_complete, j, &j->work));
  CHECK(napi_queue_async_work(env, j->work));
  return promise;
}

/** netlinkClose(fd: number): void */
static napi_value netlink_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  close(fd);
  return NULL;
}

// ---- libnftables ----

struct nft_handle {
  struct nft_ctx *ctx; // created on first use, in the handle's namespace
  char *netns;         // NULL: the agent's own
  int busy;
};

static void nft_handle_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  struct nft_handle *h = data;
  if (h->ctx) nft_ctx_free(h->ctx);
  free(h->netns);
  free(h);
}

/** nftOpen(netnsPath?: string): handle — a libnftables context for that namespace (default: this one). */
static napi_value nft_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct nft_handle *h = calloc(1, sizeof *h);
  if (!h) return throw_errno(env, "nft context", ENOMEM);
  h->netns = argc > 0 ? optional_string(env, argv[0]) : NULL;
  napi_value ext;
  CHECK(napi_create_external(env, h, nft_handle_finalize, NULL, &ext));
  return ext;
}

/** nftClose(handle): void — frees the context and its socket now (a handle for a pod's namespace lives briefly). */
static napi_value nft_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct nft_handle *h;
  CHECK(napi_get_value_external(env, argv[0], (void **)&h));
  if (h->busy) {
    napi_throw_error(env, "EBUSY", "nftClose: a transaction is still running on this context");
    return NULL;
  }
  if (h->ctx) nft_ctx_free(h->ctx);
  h->ctx = NULL;
  return NULL;
}

struct nft_job {
  struct nft_handle *h;
  char *script;
  unsigned int flags;
  int rc;
  int sys_errno;
  char *output;
  char *error;
  napi_deferred deferred;
  napi_async_work work;
};

/** Scripts or listings larger than this are followed by malloc_trim. */
#define TRIM_AFTER (64 * 1024)

static void nft_job_execute(napi_env env, void *data) {
  (void)env;
  struct nft_job *j = data;
  int self = enter_netns(j->h->netns);
  if (j->h->netns && self < 0) {
    j->rc = -1;
    j->sys_errno = -self;
    j->error = malloc(512);
    if (j->error)
      snprintf(j->error, 512, "cannot enter network namespace %s: %s", j->h->netns, strerror(-self));
    return;
  }
  if (!j->h->ctx) {
    j->h->ctx = nft_ctx_new(NFT_CTX_DEFAULT);
    if (j->h->ctx) {
      nft_ctx_buffer_output(j->h->ctx);
      nft_ctx_buffer_error(j->h->ctx);
    }
  }
  if (!j->h->ctx) {
    leave_netns(j->h->netns ? self : -1);
    j->rc = -1;
    j->sys_errno = ENOMEM;
    return;
  }
  nft_ctx_output_set_flags(j->h->ctx, j->flags);
  j->rc = nft_run_cmd_from_buffer(j->h->ctx, j->script);
  // The buffers are reset by the next run: copy them out now.
  const char *o = nft_ctx_get_output_buffer(j->h->ctx);
  const char *e = nft_ctx_get_error_buffer(j->h->ctx);
  j->output = strdup(o ? o : "");
  j->error = strdup(e ? e : "");
  if (strlen(j->script) > TRIM_AFTER || strlen(j->output) > TRIM_AFTER) {
    // A whole table parsed (start-up, a resync) or listed leaves ~15 MiB at 10k pods held by the context (its
    // cache and parser state) and then by this worker thread's malloc arena. The context goes (the next run
    // makes a new one here, in the same netns) and malloc_trim hands the pages back. Its socket's close may wait
    // for an RCU grace period (~13 ms) after a deletion: paid here, once per whole table, off the event loop.
    nft_ctx_free(j->h->ctx);
    j->h->ctx = NULL;
    malloc_trim(0);
  }
  leave_netns(j->h->netns ? self : -1);
}

static void nft_job_complete(napi_env env, napi_status status, void *data) {
  struct nft_job *j = data;
  j->h->busy = 0;
  napi_value v;
  if (status == napi_ok && j->rc == 0) {
    napi_create_string_utf8(env, j->output ? j->output : "", NAPI_AUTO_LENGTH, &v);
    napi_resolve_deferred(env, j->deferred, v);
  } else {
    char msg[256];
    const char *text = j->error && j->error[0] ? j->error : NULL;
    if (!text) {
      snprintf(msg, sizeof msg, "nft: %s", j->sys_errno ? strerror(j->sys_errno) : "transaction failed");
      text = msg;
    }
    napi_value message, err;
    napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, NULL, message, &err);
    napi_reject_deferred(env, j->deferred, err);
  }
  napi_delete_async_work(env, j->work);
  free(j->script);
  free(j->output);
  free(j->error);
  free(j);
}

/**
 * nftRun(handle, script: string, flags: number): Promise<string> — one `nft -f` worth of commands, as one
 * transaction; resolves with what nft would print, rejects with its error text. One run per handle at a time
 * (the caller queues).
 */
static napi_value nft_run(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct nft_handle *h;
  CHECK(napi_get_value_external(env, argv[0], (void **)&h));
  if (h->busy) {
    napi_throw_error(env, "EBUSY", "nftRun: a transaction is already running on this context");
    return NULL;
  }
  struct nft_job *j = calloc(1, sizeof *j);
  if (!j) return throw_errno(env, "nftRun", ENOMEM);
  j->h = h;
  j->script = optional_string(env, argv[1]);
  uint32_t flags = 0;
  napi_get_value_uint32(env, argv[2], &flags);
  j->flags = flags;
  if (!j->script) {
    free(j);
    napi_throw_type_error(env, NULL, "nftRun: script must be a string");
    return NULL;
  }
  napi_value promise, name;
  CHECK(napi_create_promise(env, &j->deferred, &promise));
  CHECK(napi_create_string_utf8(env, "palisade-nft", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_create_async_work(env, NULL, name, nft_job_execute, nft_job_complete, j, &j->work));
  h->busy = 1;
  CHECK(napi_queue_async_work(env, j->work));
  return promise;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"netlinkOpen", NULL, netlink_open, NULL, NULL, NULL, napi_default, NULL},
      {"netlinkExchangeAsync", NULL, netlink_exchange_async, NULL, NULL, NULL, napi_default, NULL},
      {"netlinkClose", NULL, netlink_close, NULL, NULL, NULL, napi_default, NULL},
      {"nftOpen", NULL, nft_open, NULL, NULL, NULL, napi_default, NULL},
      {"nftRun", NULL, nft_run, NULL, NULL, NULL, napi_default, NULL},
      {"nftClose", NULL, nft_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value flags;
  napi_create_object(env, &flags);
  struct {
    const char *name;
    unsigned int value;
  } f[] = {{"json", NFT_CTX_OUTPUT_JSON}, {"terse", NFT_CTX_OUTPUT_TERSE}, {"handle", NFT_CTX_OUTPUT_HANDLE}};
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
    napi_value v;
    napi_create_uint32(env, f[i].value, &v);
    napi_set_named_property(env, flags, f[i].name, v);
  }
  napi_set_named_property(env, exports, "nftFlags", flags);
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
