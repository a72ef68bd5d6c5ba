/*
 * cocoon_vsock: AF_VSOCK for Node.js (docs/transports.md; guest.md §6.2-6.4).
 *
 * Node cannot adopt an AF_VSOCK fd (libuv's uv_guess_handle reports UNKNOWN), so this addon
 * does the socket syscalls itself, all non-blocking, and offers a readiness watcher built on
 * libuv's uv_poll_t on Node's own event loop. No threads: callbacks run on the main thread and
 * the TypeScript side (src/transport/vsock.ts) turns them into a stream.Duplex with
 * backpressure. Errors are thrown as JS Errors whose `code` is the errno name.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/vm_sockets.h>
#include <node_api.h>
#include <uv.h>

#define CHECK(call)                                                            \
  do {                                                                         \
    if ((call) != napi_ok) {                                                   \
      napi_throw_error(env, "EINVAL", "cocoon_vsock: N-API call failed: " #call); \
      return NULL;                                                             \
    }                                                                          \
  } while (0)

/* Throws an Error for errno `err` with code = its name (e.g. "EAFNOSUPPORT"). */
static napi_value throw_errno(napi_env env, const char *op, int err) {
  char msg[160];
  const char *name = strerrorname_np(err);
  snprintf(msg, sizeof msg, "%s: %s", op, strerror(err));
  napi_throw_error(env, name != NULL ? name : "EIO", msg);
  return NULL;
}

static int arg_u32(napi_env env, napi_value v, uint32_t *out) {
  return napi_get_value_uint32(env, v, out) == napi_ok ? 0 : -1;
}

static int arg_i32(napi_env env, napi_value v, int32_t *out) {
  return napi_get_value_int32(env, v, out) == napi_ok ? 0 : -1;
}

static napi_value make_i32(napi_env env, int32_t v) {
  napi_value r;
  if (napi_create_int32(env, v, &r) != napi_ok) return NULL;
  return r;
}

/* Reads up to `n` arguments; returns 0 when exactly `n` were given. */
static int get_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv, napi_value *self) {
  size_t argc = n;
  if (napi_get_cb_info(env, info, &argc, argv, self, NULL) != napi_ok || argc < n) {
    napi_throw_type_error(env, "EINVAL", "cocoon_vsock: wrong number of arguments");
    return -1;
  }
  return 0;
}

static void fill_addr(struct sockaddr_vm *sa, uint32_t cid, uint32_t port) {
  memset(sa, 0, sizeof *sa);
  sa->svm_family = AF_VSOCK;
  sa->svm_cid = cid;
  sa->svm_port = port;
}

/* socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC) -> fd */
static napi_value js_socket(napi_env env, napi_callback_info info) {
  (void)info;
  int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  return make_i32(env, fd);
}

/* socketpair(AF_UNIX) -> [fd, fd], both non-blocking: exercises the stream layer in tests. */
static napi_value js_socketpair(napi_env env, napi_callback_info info) {
  (void)info;
  int sv[2];
  napi_value arr;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) return throw_errno(env, "socketpair", errno);
  CHECK(napi_create_array_with_length(env, 2, &arr));
  CHECK(napi_set_element(env, arr, 0, make_i32(env, sv[0])));
  CHECK(napi_set_element(env, arr, 1, make_i32(env, sv[1])));
  return arr;
}

/* bind(fd, cid, port) */
static napi_value js_bind(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t fd;
  uint32_t cid, port;
  struct sockaddr_vm sa;
  if (get_args(env, info, 3, argv, NULL) != 0) return NULL;
  if (arg_i32(env, argv[0], &fd) || arg_u32(env, argv[1], &cid) || arg_u32(env, argv[2], &port)) {
    napi_throw_type_error(env, "EINVAL", "bind(fd, cid, port): numbers expected");
    return NULL;
  }
  fill_addr(&sa, cid, port);
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) return throw_errno(env, "bind", errno);
  return NULL;
}

/* listen(fd, backlog) */
static napi_value js_listen(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd, backlog;
  if (get_args(env, info, 2, argv, NULL) != 0) return NULL;
  if (arg_i32(env, argv[0], &fd) || arg_i32(env, argv[1], &backlog)) {
    napi_throw_type_error(env, "EINVAL", "listen(fd, backlog): numbers expected");
    return NULL;
  }
  if (listen(fd, backlog) < 0) return throw_errno(env, "listen", errno);
  return NULL;
}

/* localAddress(fd) -> { cid, port } */
static napi_value js_local_address(napi_env env, napi_callback_info info) {
  napi_value argv[1], obj, v;
  int32_t fd;
  struct sockaddr_vm sa;
  socklen_t len = sizeof sa;
  if (get_args(env, info, 1, argv, NULL) != 0) return NULL;
  if (arg_i32(env, argv[0], &fd)) {
    napi_throw_type_error(env, "EINVAL", "localAddress(fd): number expected");
    return NULL;
  }
  memset(&sa, 0, sizeof sa);
  if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0) return throw_errno(env, "getsockname", errno);
  CHECK(napi_create_object(env, &obj));
  CHECK(napi_create_uint32(env, sa.svm_cid, &v));
  CHECK(napi_set_named_property(env, obj, "cid", v));
  CHECK(napi_create_uint32(env, sa.svm_port, &v));
  CHECK(napi_set_named_property(env, obj, "port", v));
  return obj;
}

/* connect(fd, cid, port) -> true (connected) | false (EINPROGRESS: wait for WRITABLE, then soError) */
static napi_value js_connect(napi_env env, napi_callback_info info) {
  napi_value argv[3], r;
  int32_t fd;
  uint32_t cid, port;
  struct sockaddr_vm sa;
  if (get_args(env, info, 3, argv, NULL) != 0) return NULL;
  if (arg_i32(env, argv[0], &fd) || arg_u32(env, argv[1], &cid) || arg_u32(env, argv[2], &port)) {
    napi_throw_type_error(env, "EINVAL", "connect(fd, cid, port): numbers expected");
    return NULL;
  }
  fill_addr(&sa, cid, port);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
    CHECK(napi_get_boolean(env, true, &r));
    return r;
  }
  if (errno != EINPROGRESS) return throw_errno(env, "connect", errno);
  CHECK(napi_get_boolean(env, false, &r));
  return r;
}

/* soError(fd) -> errno of a finished non-blocking connect (0 = connected) */
static napi_value js_so_error(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  int err = 0;
  socklen_t len = sizeof err;
  if (get_args(env, info, 1, argv, NULL) != 0) return NULL;
  if (arg_i32(env, argv[0], &fd)) {
    napi_throw_type_error(env, "EINVAL", "soError(fd): number expected");
    return NULL;
  }
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return throw_errno(env, "getsockopt", errno);
  return make_i32(env, err);
}

/* accept(fd) -> new non-blocking fd, or -1 when nothing is pending */
static napi_value js_accept(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  int c;
  if (get_args(env, info, 1, argv, NULL) != 0) return NULL;
  if (arg_i32(env, argv[0], &fd)) {
    napi_throw_type_error(env, "EINVAL", "accept(fd): number expected");
    return NULL;
  }
  do c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  while (c < 0 && errno == EINTR);
  if (c < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return make_i32(env, -1);
    return throw_errno(env, "accept", errno);
  }
  return make_i32(env, c);
}

/* read(fd, buffer) -> bytes (0 = EOF) | -1 (EAGAIN) */
static napi_value js_read(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd;
  void *data;
  size_t len;
  ssize_t n;
  if (get_args(env, info, 2, argv, NULL) != 0) return NULL;
  if (arg_i32(env, argv[0], &fd) || napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok) {
    napi_throw_type_error(env, "EINVAL", "read(fd, buffer): fd and Buffer expected");
    return NULL;
  }
  do n = read(fd, data, len);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return make_i32(env, -1);
    return throw_errno(env, "read", errno);
  }
  return make_i32(env, (int32_t)n);
}

/* write(fd, buffer) -> bytes written | -1 (EAGAIN). MSG_NOSIGNAL: a closed peer is EPIPE, not SIGPIPE. */
static napi_value js_write(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd;
  void *data;
  size_t len;
  ssize_t n;
  if (get_args(env, info, 2, argv, NULL) != 0) return NULL;
  if (arg_i32(env, argv[0], &fd) || napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok) {
    napi_throw_type_error(env, "EINVAL", "write(fd, buffer): fd and Buffer expected");
    return NULL;
  }
  if (len > 0x7fffffff) len = 0x7fffffff;
  do n = send(fd, data, len, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return make_i32(env, -1);
    return throw_errno(env, "write", errno);
  }
  return make_i32(env, (int32_t)n);
}

/* shutdown(fd, SHUT_WR) */
static napi_value js_shutdown(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (get_args(env, info, 1, argv, NULL) != 0) return NULL;
  if (arg_i32(env, argv[0], &fd)) {
    napi_throw_type_error(env, "EINVAL", "shutdown(fd): number expected");
    return NULL;
  }
  if (shutdown(fd, SHUT_WR) < 0 && errno != ENOTCONN) return throw_errno(env, "shutdown", errno);
  return NULL;
}

/* close(fd) */
static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (get_args(env, info, 1, argv, NULL) != 0) return NULL;
  if (arg_i32(env, argv[0], &fd)) {
    napi_throw_type_error(env, "EINVAL", "close(fd): number expected");
    return NULL;
  }
  if (close(fd) < 0 && errno != EINTR) return throw_errno(env, "close", errno);
  return NULL;
}

/* ---- Poller: a uv_poll_t watching one fd, calling back (status, events) on the main loop. ---- */

typedef struct {
  uv_poll_t handle;
  napi_env env;
  napi_ref callback; /* strong while the poller is open */
  napi_async_context async;
  int closed;        /* close() called: the handle is closing or closed */
  int wrapper_gone;  /* the JS object was collected */
} poller_t;

static void poller_free_if_done(poller_t *p) {
  if (p->closed == 2 && p->wrapper_gone) free(p);
}

static void on_handle_closed(uv_handle_t *h) {
  poller_t *p = (poller_t *)h->data;
  p->closed = 2;
  poller_free_if_done(p);
}

static void poller_close(poller_t *p) {
  if (p->closed) return;
  p->closed = 1;
  uv_poll_stop(&p->handle);
  if (p->callback != NULL) {
    napi_delete_reference(p->env, p->callback);
    p->callback = NULL;
  }
  if (p->async != NULL) {
    napi_async_destroy(p->env, p->async);
    p->async = NULL;
  }
  uv_close((uv_handle_t *)&p->handle, on_handle_closed);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  poller_t *p = (poller_t *)h->data;
  napi_env env = p->env;
  napi_handle_scope scope;
  napi_value cb, recv, argv[2], result;
  if (p->closed || p->callback == NULL) return;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  if (napi_get_reference_value(env, p->callback, &cb) == napi_ok && cb != NULL &&
      napi_get_global(env, &recv) == napi_ok && napi_create_int32(env, status, &argv[0]) == napi_ok &&
      napi_create_int32(env, events, &argv[1]) == napi_ok) {
    /* napi_make_callback runs the microtask queue afterwards, as any libuv-driven callback must. */
    if (napi_make_callback(env, p->async, recv, cb, 2, argv, &result) == napi_pending_exception) {
      napi_value exc;
      napi_get_and_clear_last_exception(env, &exc);
      napi_fatal_exception(env, exc);
    }
  }
  napi_close_handle_scope(env, scope);
}

static void poller_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  poller_t *p = (poller_t *)data;
  p->wrapper_gone = 1;
  if (!p->closed) poller_close(p);
  poller_free_if_done(p);
}

static poller_t *unwrap(napi_env env, napi_callback_info info, napi_value *argv, size_t n) {
  napi_value self;
  poller_t *p = NULL;
  size_t argc = n;
  if (napi_get_cb_info(env, info, &argc, argv, &self, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, self, (void **)&p) != napi_ok) {
    napi_throw_type_error(env, "EINVAL", "not a Poller");
    return NULL;
  }
  return p;
}

/* new Poller(fd, callback) */
static napi_value poller_new(napi_env env, napi_callback_info info) {
  napi_value argv[2], self, name;
  int32_t fd;
  napi_valuetype t;
  size_t argc = 2;
  uv_loop_t *loop;
  poller_t *p;
  CHECK(napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  if (argc < 2 || arg_i32(env, argv[0], &fd) || napi_typeof(env, argv[1], &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, "EINVAL", "new Poller(fd, callback)");
    return NULL;
  }
  CHECK(napi_get_uv_event_loop(env, &loop));
  p = calloc(1, sizeof *p);
  if (p == NULL) return throw_errno(env, "calloc", ENOMEM);
  p->env = env;
  int rc = uv_poll_init(loop, &p->handle, fd);
  if (rc != 0) {
    free(p);
    napi_throw_error(env, uv_err_name(rc), "uv_poll_init failed");
    return NULL;
  }
  p->handle.data = p;
  if (napi_create_reference(env, argv[1], 1, &p->callback) != napi_ok ||
      napi_create_string_utf8(env, "cocoon_vsock.Poller", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, NULL, name, &p->async) != napi_ok ||
      napi_wrap(env, self, p, poller_finalize, NULL, NULL) != napi_ok) {
    p->wrapper_gone = 1;
    poller_close(p);
    napi_throw_error(env, "EINVAL", "cannot create Poller");
    return NULL;
  }
  return self;
}

/* poller.start(events): watch for UV_READABLE | UV_WRITABLE; 0 stops. */
static napi_value poller_start(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t events;
  poller_t *p = unwrap(env, info, argv, 1);
  if (p == NULL) return NULL;
  if (arg_i32(env, argv[0], &events)) {
    napi_throw_type_error(env, "EINVAL", "start(events): number expected");
    return NULL;
  }
  if (p->closed) return NULL;
  int rc = events == 0 ? uv_poll_stop(&p->handle) : uv_poll_start(&p->handle, events, on_poll);
  if (rc != 0) napi_throw_error(env, uv_err_name(rc), "uv_poll_start failed");
  return NULL;
}

static napi_value poller_stop(napi_env env, napi_callback_info info) {
  poller_t *p = unwrap(env, info, NULL, 0);
  if (p != NULL && !p->closed) uv_poll_stop(&p->handle);
  return NULL;
}

static napi_value poller_close_js(napi_env env, napi_callback_info info) {
  poller_t *p = unwrap(env, info, NULL, 0);
  if (p != NULL) poller_close(p);
  return NULL;
}

static int set_fn(napi_env env, napi_value exports, const char *name, napi_callback fn) {
  napi_value f;
  if (napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, NULL, &f) != napi_ok) return -1;
  return napi_set_named_property(env, exports, name, f) == napi_ok ? 0 : -1;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value cls;
  napi_property_descriptor methods[] = {
      {"start", NULL, poller_start, NULL, NULL, NULL, napi_default, NULL},
      {"stop", NULL, poller_stop, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, poller_close_js, NULL, NULL, NULL, napi_default, NULL},
  };
  if (set_fn(env, exports, "socket", js_socket) || set_fn(env, exports, "socketpair", js_socketpair) ||
      set_fn(env, exports, "bind", js_bind) || set_fn(env, exports, "listen", js_listen) ||
      set_fn(env, exports, "localAddress", js_local_address) || set_fn(env, exports, "connect", js_connect) ||
      set_fn(env, exports, "soError", js_so_error) || set_fn(env, exports, "accept", js_accept) ||
      set_fn(env, exports, "read", js_read) || set_fn(env, exports, "write", js_write) ||
      set_fn(env, exports, "shutdown", js_shutdown) || set_fn(env, exports, "close", js_close)) {
    return NULL;
  }
  CHECK(napi_define_class(env, "Poller", NAPI_AUTO_LENGTH, poller_new, NULL, 3, methods, &cls));
  CHECK(napi_set_named_property(env, exports, "Poller", cls));
  CHECK(napi_set_named_property(env, exports, "READABLE", make_i32(env, UV_READABLE)));
  CHECK(napi_set_named_property(env, exports, "WRITABLE", make_i32(env, UV_WRITABLE)));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
