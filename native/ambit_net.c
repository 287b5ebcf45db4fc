// ambit_net: the few Linux socket primitives Node.js lacks, exposed through N-API.
//
// What it provides (and nothing more; everything else is TypeScript in src/platform):
//   - sockets created inside another network namespace (setns around socket() only),
//     with SO_MARK, IP_TRANSPARENT, IP_FREEBIND, SO_REUSEADDR, SO_REUSEPORT, IPV6_V6ONLY, bind and listen;
//   - writing a net.* sysctl of another network namespace (setns around the open() of /proc/sys/net);
//   - a non-blocking connect, SO_ERROR, SO_ORIGINAL_DST (IPv4) / IP6T_SO_ORIGINAL_DST (IPv6);
//   - netns identity (the nsfs inode);
//   - Unix SOCK_SEQPACKET sockets with SCM_RIGHTS fd passing (the ZDS transport, PROTOCOLS.md 8.2);
//   - a libuv poll watcher so JS learns when a raw fd becomes readable/writable without blocking;
//   - malloc_trim(0): glibc keeps freed heap pages (e.g. socket buffers after a traffic burst) mapped; trimming
//     hands them back to the node.
//
// Conventions: every fd this file creates is non-blocking and close-on-exec. Failures throw a JS Error
// whose `code` is the errno name (e.g. "EADDRINUSE"), `errno` the number, and `syscall` the step that
// failed (e.g. "setns", "bind"); bad argument types throw a TypeError. Nothing here blocks the event loop.
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <linux/nsfs.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24 /* linux/in.h; older libc headers lack it */
#endif

#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80 // linux/netfilter_ipv4.h
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80 // linux/netfilter_ipv6/ip6_tables.h (not included: it clashes with netinet)
#endif
#ifndef IPV6_TRANSPARENT
#define IPV6_TRANSPARENT 75
#endif
#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78
#endif

#define MAX_PATH_BYTES 4096
#define MAX_RECV_BYTES (1 << 20)
#define MAX_PASSED_FDS 253 // SCM_MAX_FD

// ---------------------------------------------------------------------------------------------
// Errors and argument helpers

// Throws Error("<step> [detail] failed: ENAME (text)") with code/errno/syscall set; returns NULL so callers
// can `return throw_errno(...)`.
static napi_value throw_errno(napi_env env, const char *step, const char *detail, int err) {
  const char *name = strerrorname_np(err);
  if (name == NULL) name = "EUNKNOWN";
  char msg[768];
  snprintf(msg, sizeof msg, "%s%s%s failed: %s (%s)", step, detail ? " " : "", detail ? detail : "", name,
           strerror(err));
  napi_value js_msg, js_code, js_errno, js_step, error;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &js_msg);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &js_code);
  napi_create_error(env, NULL, js_msg, &error);
  napi_set_named_property(env, error, "code", js_code);
  napi_create_int32(env, err, &js_errno);
  napi_set_named_property(env, error, "errno", js_errno);
  napi_create_string_utf8(env, step, NAPI_AUTO_LENGTH, &js_step);
  napi_set_named_property(env, error, "syscall", js_step);
  napi_throw(env, error);
  return NULL;
}

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

static napi_valuetype type_of(napi_env env, napi_value v) {
  napi_valuetype t = napi_undefined;
  napi_typeof(env, v, &t);
  return t;
}

// Reads an integer argument; false (with a TypeError thrown) if it is not an integral number in range.
static int get_int(napi_env env, napi_value v, const char *what, int64_t min, int64_t max, int64_t *out) {
  double d;
  if (type_of(env, v) != napi_number || napi_get_value_double(env, v, &d) != napi_ok || d != (double)(int64_t)d ||
      d < (double)min || d > (double)max) {
    char msg[160];
    snprintf(msg, sizeof msg, "%s must be an integer between %lld and %lld", what, (long long)min, (long long)max);
    throw_type(env, msg);
    return 0;
  }
  *out = (int64_t)d;
  return 1;
}

static int get_fd(napi_env env, napi_value v, int *fd) {
  int64_t n;
  if (!get_int(env, v, "fd", 0, 0x7fffffff, &n)) return 0;
  *fd = (int)n;
  return 1;
}

// Copies a string argument into buf; false (TypeError thrown) if it is not a string or does not fit.
static int get_string(napi_env env, napi_value v, const char *what, char *buf, size_t size) {
  size_t len = 0;
  if (type_of(env, v) != napi_string || napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok ||
      len + 1 > size) {
    char msg[160];
    snprintf(msg, sizeof msg, "%s must be a string shorter than %zu bytes", what, size);
    throw_type(env, msg);
    return 0;
  }
  napi_get_value_string_utf8(env, v, buf, size, &len);
  return 1;
}

// Optional object property: 0 = absent/undefined, 1 = present (value in *out), -1 = error thrown.
static int get_prop(napi_env env, napi_value obj, const char *key, napi_value *out) {
  bool has = false;
  napi_has_named_property(env, obj, key, &has);
  if (!has) return 0;
  napi_get_named_property(env, obj, key, out);
  napi_valuetype t = type_of(env, *out);
  return (t == napi_undefined || t == napi_null) ? 0 : 1;
}

static int get_bool_prop(napi_env env, napi_value obj, const char *key, bool dflt, bool *out) {
  napi_value v;
  int has = get_prop(env, obj, key, &v);
  *out = dflt;
  if (has == 0) return 1;
  if (type_of(env, v) != napi_boolean) {
    char msg[96];
    snprintf(msg, sizeof msg, "options.%s must be a boolean", key);
    throw_type(env, msg);
    return 0;
  }
  napi_get_value_bool(env, v, out);
  return 1;
}

static int get_int_prop(napi_env env, napi_value obj, const char *key, int64_t min, int64_t max, int64_t dflt,
                        int64_t *out) {
  napi_value v;
  int has = get_prop(env, obj, key, &v);
  *out = dflt;
  if (has == 0) return 1;
  char what[64];
  snprintf(what, sizeof what, "options.%s", key);
  return get_int(env, v, what, min, max, out);
}

// An IP address in either family; `family` is AF_INET or AF_INET6.
typedef struct {
  int family;
  union {
    struct in_addr v4;
    struct in6_addr v6;
  } addr;
} ip_addr;

static int parse_ip(const char *text, ip_addr *out) {
  if (inet_pton(AF_INET, text, &out->addr.v4) == 1) {
    out->family = AF_INET;
    return 1;
  }
  if (inet_pton(AF_INET6, text, &out->addr.v6) == 1) {
    out->family = AF_INET6;
    return 1;
  }
  return 0;
}

// Fills a sockaddr for a socket of `sock_family`; an IPv4 address on an IPv6 socket becomes ::ffff:a.b.c.d.
static socklen_t make_sockaddr(int sock_family, const ip_addr *ip, int port, struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof *ss);
  if (sock_family == AF_INET) {
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    sin->sin_addr = ip->addr.v4;
    return sizeof *sin;
  }
  struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons((uint16_t)port);
  if (ip->family == AF_INET6) {
    sin6->sin6_addr = ip->addr.v6;
  } else {
    sin6->sin6_addr.s6_addr[10] = 0xff;
    sin6->sin6_addr.s6_addr[11] = 0xff;
    memcpy(&sin6->sin6_addr.s6_addr[12], &ip->addr.v4, 4);
  }
  return sizeof *sin6;
}

static int socket_domain(int fd, int *domain) {
  socklen_t len = sizeof *domain;
  return getsockopt(fd, SOL_SOCKET, SO_DOMAIN, domain, &len);
}

// Resolves a namespace argument: a path string (opened here, *owned = 1) or an already-open fd number.
// Returns -1 with an exception pending on failure.
static int open_ns_arg(napi_env env, napi_value v, int *owned) {
  *owned = 0;
  if (type_of(env, v) == napi_number) {
    int fd;
    return get_fd(env, v, &fd) ? fd : -1;
  }
  char path[MAX_PATH_BYTES];
  if (!get_string(env, v, "netns (path or fd)", path, sizeof path)) return -1;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw_errno(env, "open netns", path, errno);
    return -1;
  }
  *owned = 1;
  return fd;
}

// ---------------------------------------------------------------------------------------------
// socketInNetns(ns: string | number | null, opts) -> fd

// Creates a socket inside the netns `ns_fd` (or the current one when ns_fd < 0). Only socket() runs inside the
// target netns: a socket keeps the netns it was created in, so options, bind and listen can happen afterwards.
// Returns the fd, or -1 with errno set and *step naming the failed call.
static int create_socket_in(int ns_fd, int domain, int type, const char **step) {
  if (ns_fd < 0) {
    *step = "socket";
    return socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  }
  // setns() switches only the calling thread (Node's main thread); remember where it was.
  int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home < 0) {
    *step = "open /proc/thread-self/ns/net";
    return -1;
  }
  if (setns(ns_fd, CLONE_NEWNET) != 0) {
    int e = errno;
    close(home);
    *step = "setns";
    errno = e;
    return -1;
  }
  int fd = socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int socket_errno = errno;
  if (setns(home, CLONE_NEWNET) != 0) {
    // The main thread is stranded in a foreign netns: every later socket would silently land in the wrong
    // network. Continuing would be worse than stopping.
    fprintf(stderr, "ambit_net: FATAL: cannot return to the original network namespace: %s\n", strerror(errno));
    abort();
  }
  close(home);
  *step = "socket";
  errno = socket_errno;
  return fd;
}

static napi_value socket_in_netns(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2 || type_of(env, argv[1]) != napi_object) return throw_type(env, "usage: socketInNetns(ns, options)");
  napi_value opts = argv[1];

  int64_t family, port, backlog, mark;
  bool transparent, freebind, reuse_addr, reuse_port, v6_only, dgram = false;
  if (!get_int_prop(env, opts, "family", 4, 6, 0, &family)) return NULL;
  if (family != 4 && family != 6) return throw_type(env, "options.family must be 4 or 6");
  if (!get_int_prop(env, opts, "bindPort", 0, 65535, -1, &port)) return NULL;
  if (!get_int_prop(env, opts, "listen", 0, 65535, 0, &backlog)) return NULL;
  if (!get_int_prop(env, opts, "mark", 0, 0xffffffffLL, 0, &mark)) return NULL;
  if (!get_bool_prop(env, opts, "transparent", false, &transparent)) return NULL;
  if (!get_bool_prop(env, opts, "freebind", false, &freebind)) return NULL;
  if (!get_bool_prop(env, opts, "reuseAddr", false, &reuse_addr)) return NULL;
  if (!get_bool_prop(env, opts, "reusePort", false, &reuse_port)) return NULL;
  if (!get_bool_prop(env, opts, "v6Only", true, &v6_only)) return NULL;
  napi_value v;
  if (get_prop(env, opts, "type", &v) == 1) {
    char type[16];
    if (!get_string(env, v, "options.type", type, sizeof type)) return NULL;
    if (strcmp(type, "dgram") == 0) dgram = true;
    else if (strcmp(type, "stream") != 0) return throw_type(env, "options.type must be 'stream' or 'dgram'");
  }
  int domain = family == 4 ? AF_INET : AF_INET6;
  ip_addr bind_ip;
  int has_bind_ip = 0;
  char ip_text[INET6_ADDRSTRLEN + 1];
  if (get_prop(env, opts, "bindIp", &v) == 1) {
    if (!get_string(env, v, "options.bindIp", ip_text, sizeof ip_text)) return NULL;
    if (!parse_ip(ip_text, &bind_ip) || (domain == AF_INET && bind_ip.family != AF_INET))
      return throw_type(env, "options.bindIp must be an IP address of the socket's family");
    has_bind_ip = 1;
  }
  if (dgram && backlog > 0) return throw_type(env, "options.listen is only for stream sockets");

  // Resolve the namespace (argument 0) last, so argument errors never leak an opened fd.
  int ns_fd = -1, ns_owned = 0;
  if (type_of(env, argv[0]) != napi_null && type_of(env, argv[0]) != napi_undefined) {
    ns_fd = open_ns_arg(env, argv[0], &ns_owned);
    if (ns_fd < 0) return NULL;
  }
  const char *step;
  int fd = create_socket_in(ns_fd, domain, dgram ? SOCK_DGRAM : SOCK_STREAM, &step);
  int err = errno;
  if (ns_owned) close(ns_fd);
  if (fd < 0) return throw_errno(env, step, NULL, err);

  int one = 1, off = 0;
  uint32_t mark32 = (uint32_t)mark;
  step = NULL;
  if (mark != 0 && setsockopt(fd, SOL_SOCKET, SO_MARK, &mark32, sizeof mark32) != 0) step = "setsockopt SO_MARK";
  else if (reuse_addr && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
    step = "setsockopt SO_REUSEADDR";
  else if (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
    step = "setsockopt SO_REUSEPORT";
  else if (domain == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, v6_only ? &one : &off, sizeof one) != 0)
    step = "setsockopt IPV6_V6ONLY";
  else if (transparent && domain == AF_INET && setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof one) != 0)
    step = "setsockopt IP_TRANSPARENT";
  else if (transparent && domain == AF_INET6 && setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &one, sizeof one) != 0)
    step = "setsockopt IPV6_TRANSPARENT";
  else if (freebind && domain == AF_INET && setsockopt(fd, SOL_IP, IP_FREEBIND, &one, sizeof one) != 0)
    step = "setsockopt IP_FREEBIND";
  else if (freebind && domain == AF_INET6 && setsockopt(fd, SOL_IPV6, IPV6_FREEBIND, &one, sizeof one) != 0)
    step = "setsockopt IPV6_FREEBIND";
  // A connecting socket bound to a source address with port 0 (ztunnel's inbound delivery keeps the client's IP)
  // would make bind() search for a free port, skipping every port held by recently closed connections: under
  // connection churn that search dominates. IP_BIND_ADDRESS_NO_PORT defers the port choice to connect().
  if (step == NULL && !dgram && backlog <= 0 && has_bind_ip && port <= 0 &&
      setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one) != 0)
    step = "setsockopt IP_BIND_ADDRESS_NO_PORT";
  if (step == NULL && (has_bind_ip || port >= 0)) {
    if (!has_bind_ip) { // the wildcard address of the family
      memset(&bind_ip, 0, sizeof bind_ip);
      bind_ip.family = domain;
    }
    struct sockaddr_storage ss;
    socklen_t len = make_sockaddr(domain, &bind_ip, port < 0 ? 0 : (int)port, &ss);
    if (bind(fd, (struct sockaddr *)&ss, len) != 0) step = "bind";
  }
  if (step == NULL && backlog > 0 && listen(fd, (int)backlog) != 0) step = "listen";
  if (step != NULL) {
    err = errno;
    close(fd);
    return throw_errno(env, step, NULL, err);
  }
  napi_value result;
  napi_create_int32(env, fd, &result);
  return result;
}

// ---------------------------------------------------------------------------------------------
// TCP helpers: connectFd, socketError, originalDst, setMark, closeFd

// connectFd(fd, ip, port) -> errno of the non-blocking connect (0 = connected, EINPROGRESS = under way).
static napi_value connect_fd(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3) return throw_type(env, "usage: connectFd(fd, ip, port)");
  int fd, domain;
  int64_t port;
  char ip_text[INET6_ADDRSTRLEN + 1];
  ip_addr ip;
  if (!get_fd(env, argv[0], &fd) || !get_string(env, argv[1], "ip", ip_text, sizeof ip_text) ||
      !get_int(env, argv[2], "port", 1, 65535, &port))
    return NULL;
  if (!parse_ip(ip_text, &ip)) return throw_type(env, "ip must be an IPv4 or IPv6 address");
  if (socket_domain(fd, &domain) != 0) return throw_errno(env, "getsockopt SO_DOMAIN", NULL, errno);
  if (domain == AF_INET && ip.family != AF_INET) return throw_type(env, "ip must be IPv4 for an IPv4 socket");
  struct sockaddr_storage ss;
  socklen_t len = make_sockaddr(domain, &ip, (int)port, &ss);
  int rc = connect(fd, (struct sockaddr *)&ss, len);
  napi_value result;
  napi_create_int32(env, rc == 0 ? 0 : errno, &result);
  return result;
}

// socketError(fd) -> pending SO_ERROR (0 = none); read once a non-blocking connect reports writable.
static napi_value socket_error(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int fd, soerr = 0;
  if (argc < 1 || !get_fd(env, argv[0], &fd)) return argc < 1 ? throw_type(env, "usage: socketError(fd)") : NULL;
  socklen_t len = sizeof soerr;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
    return throw_errno(env, "getsockopt SO_ERROR", NULL, errno);
  napi_value result;
  napi_create_int32(env, soerr, &result);
  return result;
}

static napi_value make_endpoint(napi_env env, const struct sockaddr_storage *ss) {
  char text[INET6_ADDRSTRLEN];
  int port, family;
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
    inet_ntop(AF_INET, &sin->sin_addr, text, sizeof text);
    port = ntohs(sin->sin_port);
    family = 4;
  } else {
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
    inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof text);
    port = ntohs(sin6->sin6_port);
    family = 6;
  }
  napi_value obj, v;
  napi_create_object(env, &obj);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, "ip", v);
  napi_create_int32(env, port, &v);
  napi_set_named_property(env, obj, "port", v);
  napi_create_int32(env, family, &v);
  napi_set_named_property(env, obj, "family", v);
  return obj;
}

// originalDst(fd) -> { ip, port, family }: the destination a connection had before a NAT redirect, from
// conntrack in the socket's own netns. ENOENT means the connection was not redirected.
static napi_value original_dst(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int fd, domain;
  if (argc < 1) return throw_type(env, "usage: originalDst(fd)");
  if (!get_fd(env, argv[0], &fd)) return NULL;
  if (socket_domain(fd, &domain) != 0) return throw_errno(env, "getsockopt SO_DOMAIN", NULL, errno);
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  socklen_t len = sizeof ss;
  if (domain == AF_INET) {
    if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &ss, &len) != 0)
      return throw_errno(env, "getsockopt SO_ORIGINAL_DST", NULL, errno);
  } else if (domain == AF_INET6) {
    if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &ss, &len) != 0) {
      int e = errno;
      // A dual-stack socket carrying an IPv4 connection keeps IPv4 conntrack state.
      len = sizeof ss;
      if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &ss, &len) != 0)
        return throw_errno(env, "getsockopt IP6T_SO_ORIGINAL_DST", NULL, e);
    }
  } else {
    return throw_errno(env, "originalDst", "(not an IP socket)", EAFNOSUPPORT);
  }
  return make_endpoint(env, &ss);
}

// setMark(fd, mark): SO_MARK (needs CAP_NET_ADMIN); packets of this socket carry the mark.
static napi_value set_mark(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int fd;
  int64_t mark;
  if (argc < 2) return throw_type(env, "usage: setMark(fd, mark)");
  if (!get_fd(env, argv[0], &fd) || !get_int(env, argv[1], "mark", 0, 0xffffffffLL, &mark)) return NULL;
  uint32_t m = (uint32_t)mark;
  if (setsockopt(fd, SOL_SOCKET, SO_MARK, &m, sizeof m) != 0)
    return throw_errno(env, "setsockopt SO_MARK", NULL, errno);
  return NULL;
}

static napi_value close_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int fd;
  if (argc < 1) return throw_type(env, "usage: closeFd(fd)");
  if (!get_fd(env, argv[0], &fd)) return NULL;
  if (close(fd) != 0 && errno != EINTR) return throw_errno(env, "close", NULL, errno);
  return NULL;
}

// netnsInode(ns: string | number) -> inode of the namespace file: equal inodes = the same netns.
static napi_value netns_inode(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1) return throw_type(env, "usage: netnsInode(ns)");
  int owned;
  int fd = open_ns_arg(env, argv[0], &owned);
  if (fd < 0) return NULL;
  const char *step = NULL;
  int err = 0;
  struct stat st;
  int type = ioctl(fd, NS_GET_NSTYPE);
  if (type < 0) {
    // ENOTTY (or EINVAL): an ordinary file, not a namespace file at all
    step = (errno == ENOTTY || errno == EINVAL) ? "netnsInode (not a namespace file)" : "ioctl NS_GET_NSTYPE";
    err = (errno == ENOTTY) ? EINVAL : errno;
  } else if (type != CLONE_NEWNET) {
    step = "netnsInode (not a network namespace)";
    err = EINVAL;
  } else if (fstat(fd, &st) != 0) {
    step = "fstat";
    err = errno;
  }
  if (owned) close(fd);
  if (step) return throw_errno(env, step, NULL, err);
  napi_value result;
  napi_create_double(env, (double)st.st_ino, &result);
  return result;
}

// netnsSysctl(ns: string | number, name: string, value: string): writes /proc/sys/net/<name> as seen from the
// netns `ns`. Which namespace a /proc/sys/net file belongs to is decided when it is opened, by the opening
// thread's netns, so only open() runs inside the target namespace.
static napi_value netns_sysctl(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3) return throw_type(env, "usage: netnsSysctl(ns, name, value)");
  char name[128], value[64], path[160];
  if (!get_string(env, argv[1], "name", name, sizeof name)) return NULL;
  if (!get_string(env, argv[2], "value", value, sizeof value)) return NULL;
  if (name[0] == '\0' || name[0] == '/' || strstr(name, "..") != NULL || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_/") != strlen(name))
    return throw_type(env, "name must be a path under /proc/sys/net (e.g. ipv4/tcp_migrate_req)");
  snprintf(path, sizeof path, "/proc/sys/net/%s", name);
  int owned;
  int ns_fd = open_ns_arg(env, argv[0], &owned);
  if (ns_fd < 0) return NULL;
  int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home < 0) {
    int e = errno;
    if (owned) close(ns_fd);
    return throw_errno(env, "open /proc/thread-self/ns/net", NULL, e);
  }
  if (setns(ns_fd, CLONE_NEWNET) != 0) {
    int e = errno;
    close(home);
    if (owned) close(ns_fd);
    return throw_errno(env, "setns", NULL, e);
  }
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  int open_errno = errno;
  if (setns(home, CLONE_NEWNET) != 0) {
    fprintf(stderr, "ambit_net: FATAL: cannot return to the original network namespace: %s\n", strerror(errno));
    abort();
  }
  close(home);
  if (owned) close(ns_fd);
  if (fd < 0) return throw_errno(env, "open", path, open_errno);
  size_t len = strlen(value);
  ssize_t n = write(fd, value, len);
  int write_errno = errno;
  close(fd);
  if (n < 0 || (size_t)n != len) return throw_errno(env, "write", path, n < 0 ? write_errno : EIO);
  return NULL;
}

// ---------------------------------------------------------------------------------------------
// Unix SOCK_SEQPACKET with SCM_RIGHTS

static int fill_unix_addr(napi_env env, napi_value v, struct sockaddr_un *sun) {
  memset(sun, 0, sizeof *sun);
  sun->sun_family = AF_UNIX;
  return get_string(env, v, "path", sun->sun_path, sizeof sun->sun_path);
}

// seqpacketListen(path, backlog) -> listening fd. The caller removes a stale socket file first.
static napi_value seqpacket_listen(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  struct sockaddr_un sun;
  int64_t backlog;
  if (argc < 2) return throw_type(env, "usage: seqpacketListen(path, backlog)");
  if (!fill_unix_addr(env, argv[0], &sun) || !get_int(env, argv[1], "backlog", 1, 65535, &backlog)) return NULL;
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", NULL, errno);
  const char *step = NULL;
  if (bind(fd, (struct sockaddr *)&sun, sizeof sun) != 0) step = "bind";
  else if (listen(fd, (int)backlog) != 0) step = "listen";
  if (step) {
    int e = errno;
    close(fd);
    return throw_errno(env, step, sun.sun_path, e);
  }
  napi_value result;
  napi_create_int32(env, fd, &result);
  return result;
}

// seqpacketConnect(path) -> connected fd. Unix connects complete at once (or fail, e.g. ECONNREFUSED, or
// EAGAIN when the listener's backlog is full), so this never waits.
static napi_value seqpacket_connect(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  struct sockaddr_un sun;
  if (argc < 1) return throw_type(env, "usage: seqpacketConnect(path)");
  if (!fill_unix_addr(env, argv[0], &sun)) return NULL;
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", NULL, errno);
  if (connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, "connect", sun.sun_path, e);
  }
  napi_value result;
  napi_create_int32(env, fd, &result);
  return result;
}

// seqpacketAccept(fd) -> new connection fd, or -1 when none is pending.
static napi_value seqpacket_accept(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int fd;
  if (argc < 1) return throw_type(env, "usage: seqpacketAccept(fd)");
  if (!get_fd(env, argv[0], &fd)) return NULL;
  int conn = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (conn < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED && errno != EINTR)
    return throw_errno(env, "accept4", NULL, errno);
  napi_value result;
  napi_create_int32(env, conn < 0 ? -1 : conn, &result);
  return result;
}

// sendFds(fd, bytes, fds[]) -> true when sent as one message, false when the socket buffer is full (EAGAIN).
// The passed fds stay open here: the kernel duplicates them into the receiver.
static napi_value send_fds(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int fd;
  if (argc < 3) return throw_type(env, "usage: sendFds(fd, bytes, fds)");
  if (!get_fd(env, argv[0], &fd)) return NULL;
  bool is_typed = false, is_array = false;
  napi_is_typedarray(env, argv[1], &is_typed);
  if (!is_typed) return throw_type(env, "bytes must be a Uint8Array or Buffer");
  napi_typedarray_type ta_type;
  size_t length;
  void *data;
  size_t offset;
  napi_value arraybuffer;
  napi_get_typedarray_info(env, argv[1], &ta_type, &length, &data, &arraybuffer, &offset);
  if (ta_type != napi_uint8_array) return throw_type(env, "bytes must be a Uint8Array or Buffer");
  napi_is_array(env, argv[2], &is_array);
  if (!is_array) return throw_type(env, "fds must be an array of fd numbers");
  uint32_t nfds;
  napi_get_array_length(env, argv[2], &nfds);
  if (nfds > MAX_PASSED_FDS) return throw_type(env, "fds: at most 253 descriptors per message");

  union { // aligned control buffer large enough for MAX_PASSED_FDS
    char buf[CMSG_SPACE(sizeof(int) * MAX_PASSED_FDS)];
    struct cmsghdr align;
  } control;
  struct iovec iov = {.iov_base = data, .iov_len = length};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  if (nfds > 0) {
    memset(&control, 0, sizeof control);
    msg.msg_control = control.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    int *slots = (int *)CMSG_DATA(cmsg);
    for (uint32_t i = 0; i < nfds; i++) {
      napi_value el;
      napi_get_element(env, argv[2], i, &el);
      int passed;
      if (!get_fd(env, el, &passed)) return NULL;
      memcpy(&slots[i], &passed, sizeof passed);
    }
  }
  ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return throw_errno(env, "sendmsg", NULL, errno);
  napi_value result;
  napi_get_boolean(env, n >= 0, &result);
  return result;
}

// recvFds(fd, maxBytes, maxFds) -> null when nothing is waiting (EAGAIN), else { data, fds, eof }.
// eof = the peer closed (a zero-length read; ZDS never sends empty messages). A message longer than maxBytes or
// carrying more than maxFds descriptors is consumed, its descriptors closed, and an EMSGSIZE error thrown:
// a truncated message is never handed on as if it were whole.
static napi_value recv_fds(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int fd;
  int64_t max_bytes, max_fds;
  if (argc < 3) return throw_type(env, "usage: recvFds(fd, maxBytes, maxFds)");
  if (!get_fd(env, argv[0], &fd) || !get_int(env, argv[1], "maxBytes", 1, MAX_RECV_BYTES, &max_bytes) ||
      !get_int(env, argv[2], "maxFds", 0, MAX_PASSED_FDS, &max_fds))
    return NULL;
  char *buf = malloc((size_t)max_bytes);
  if (buf == NULL) return throw_errno(env, "malloc", NULL, ENOMEM);
  union {
    char buf[CMSG_SPACE(sizeof(int) * MAX_PASSED_FDS)];
    struct cmsghdr align;
  } control;
  struct iovec iov = {.iov_base = buf, .iov_len = (size_t)max_bytes};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  if (max_fds > 0) {
    msg.msg_control = control.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)max_fds);
  }
  // MSG_TRUNC as an input flag makes the kernel report the message's real length even when it did not fit.
  ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
  if (n < 0) {
    int e = errno;
    free(buf);
    if (e == EAGAIN || e == EWOULDBLOCK) {
      napi_value nul;
      napi_get_null(env, &nul);
      return nul;
    }
    return throw_errno(env, "recvmsg", NULL, e);
  }
  int fds[MAX_PASSED_FDS];
  int nfds = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    for (int i = 0; i < count && nfds < MAX_PASSED_FDS; i++) memcpy(&fds[nfds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
  }
  int truncated = (msg.msg_flags & MSG_TRUNC) || n > max_bytes;
  // CMSG_SPACE rounds up, so the kernel may fit one descriptor more than asked for: count them too.
  int ctruncated = (msg.msg_flags & MSG_CTRUNC) != 0 || nfds > max_fds;
  if (truncated || ctruncated) {
    for (int i = 0; i < nfds; i++) close(fds[i]);
    free(buf);
    char detail[160];
    if (truncated)
      snprintf(detail, sizeof detail, "(message of %zd bytes exceeds the %lld-byte limit; dropped)", n,
               (long long)max_bytes);
    else
      snprintf(detail, sizeof detail, "(message carries more than %lld file descriptors; dropped)",
               (long long)max_fds);
    return throw_errno(env, "recvmsg", detail, EMSGSIZE);
  }
  napi_value result, data, fd_array, v;
  napi_create_object(env, &result);
  napi_create_buffer_copy(env, (size_t)n, buf, NULL, &data);
  free(buf);
  napi_set_named_property(env, result, "data", data);
  napi_create_array_with_length(env, (size_t)nfds, &fd_array);
  for (int i = 0; i < nfds; i++) {
    napi_create_int32(env, fds[i], &v);
    napi_set_element(env, fd_array, (uint32_t)i, v);
  }
  napi_set_named_property(env, result, "fds", fd_array);
  napi_get_boolean(env, n == 0 && nfds == 0, &v);
  napi_set_named_property(env, result, "eof", v);
  return result;
}

// ---------------------------------------------------------------------------------------------
// fd readiness watcher on Node's own libuv loop
//
// pollStart(fd, callback(status, events)) -> handle; pollWatch(handle, readable, writable); pollClose(handle).
// The callback runs on the main thread from the event loop: status is 0 or a negative libuv error, events has
// bit 1 = readable, bit 2 = writable. Level-triggered: it keeps firing while the fd stays ready, so JS reads
// until EAGAIN or stops watching. pollClose must precede closing the fd (it unregisters it from epoll at once).

typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_async_context async_context;
  int closing;      // pollClose or the finalizer started uv_close
  int handle_freed; // uv's close callback ran
  int finalized;    // the JS handle was garbage-collected
} fd_watcher;

static void release_js(fd_watcher *w) {
  if (w->callback) napi_delete_reference(w->env, w->callback);
  if (w->async_context) napi_async_destroy(w->env, w->async_context);
  w->callback = NULL;
  w->async_context = NULL;
}

// The struct is freed only when both uv (close callback) and V8 (finalizer) are done with it.
static void on_uv_closed(uv_handle_t *h) {
  fd_watcher *w = (fd_watcher *)h->data;
  w->handle_freed = 1;
  if (w->finalized) free(w);
}

static void start_close(fd_watcher *w) {
  if (w->closing) return;
  w->closing = 1;
  release_js(w);
  uv_close((uv_handle_t *)&w->poll, on_uv_closed);
}

static void on_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  fd_watcher *w = (fd_watcher *)data;
  w->finalized = 1;
  start_close(w);
  if (w->handle_freed) free(w);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  fd_watcher *w = (fd_watcher *)h->data;
  if (w->closing || w->callback == NULL) return;
  napi_env env = w->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb, recv, argv[2], result;
  napi_get_reference_value(env, w->callback, &cb);
  napi_get_global(env, &recv); // make_callback needs an object receiver (undefined is refused)
  napi_create_int32(env, status, &argv[0]);
  napi_create_int32(env, ((events & UV_READABLE) ? 1 : 0) | ((events & UV_WRITABLE) ? 2 : 0), &argv[1]);
  // make_callback (not call_function): runs the microtask queue and async hooks as any libuv callback would.
  // `w` may be closed by the callback; it is not touched afterwards.
  if (napi_make_callback(env, w->async_context, recv, cb, 2, argv, &result) == napi_pending_exception) {
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    napi_fatal_exception(env, error); // to process 'uncaughtException', like any throwing callback
  }
  napi_close_handle_scope(env, scope);
}

static int get_watcher(napi_env env, napi_value v, fd_watcher **w) {
  if (type_of(env, v) != napi_external || napi_get_value_external(env, v, (void **)w) != napi_ok || *w == NULL) {
    throw_type(env, "handle must come from pollStart");
    return 0;
  }
  return 1;
}

static napi_value poll_start(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int fd;
  if (argc < 2) return throw_type(env, "usage: pollStart(fd, callback)");
  if (!get_fd(env, argv[0], &fd)) return NULL;
  if (type_of(env, argv[1]) != napi_function) return throw_type(env, "callback must be a function");
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return throw_errno(env, "napi_get_uv_event_loop", NULL, EINVAL);
  fd_watcher *w = calloc(1, sizeof *w);
  if (w == NULL) return throw_errno(env, "calloc", NULL, ENOMEM);
  int rc = uv_poll_init(loop, &w->poll, fd);
  if (rc != 0) {
    free(w);
    // libuv errors are negated errnos on Linux.
    return throw_errno(env, "uv_poll_init", NULL, -rc);
  }
  w->poll.data = w;
  w->env = env;
  napi_value resource, name, handle;
  napi_create_object(env, &resource);
  napi_create_string_utf8(env, "ambit_net.FdWatcher", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, resource, name, &w->async_context);
  napi_create_reference(env, argv[1], 1, &w->callback);
  napi_create_external(env, w, on_finalize, NULL, &handle);
  return handle;
}

static napi_value poll_watch(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  fd_watcher *w;
  bool readable, writable;
  if (argc < 3 || type_of(env, argv[1]) != napi_boolean || type_of(env, argv[2]) != napi_boolean)
    return throw_type(env, "usage: pollWatch(handle, readable: boolean, writable: boolean)");
  if (!get_watcher(env, argv[0], &w)) return NULL;
  if (w->closing) return throw_errno(env, "pollWatch", "(watcher closed)", EBADF);
  napi_get_value_bool(env, argv[1], &readable);
  napi_get_value_bool(env, argv[2], &writable);
  int events = (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0);
  int rc = events ? uv_poll_start(&w->poll, events, on_poll) : uv_poll_stop(&w->poll);
  if (rc != 0) return throw_errno(env, "uv_poll_start", NULL, -rc);
  return NULL;
}

static napi_value poll_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  fd_watcher *w;
  if (argc < 1) return throw_type(env, "usage: pollClose(handle)");
  if (!get_watcher(env, argv[0], &w)) return NULL;
  start_close(w);
  return NULL;
}

// trimHeap(): returns true when glibc gave memory back to the kernel.
static napi_value trim_heap(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  napi_get_boolean(env, malloc_trim(0) == 1, &result);
  return result;
}

// ---------------------------------------------------------------------------------------------

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"socketInNetns", NULL, socket_in_netns, NULL, NULL, NULL, napi_enumerable, NULL},
      {"connectFd", NULL, connect_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"socketError", NULL, socket_error, NULL, NULL, NULL, napi_enumerable, NULL},
      {"originalDst", NULL, original_dst, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setMark", NULL, set_mark, NULL, NULL, NULL, napi_enumerable, NULL},
      {"closeFd", NULL, close_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"netnsInode", NULL, netns_inode, NULL, NULL, NULL, napi_enumerable, NULL},
      {"netnsSysctl", NULL, netns_sysctl, NULL, NULL, NULL, napi_enumerable, NULL},
      {"seqpacketListen", NULL, seqpacket_listen, NULL, NULL, NULL, napi_enumerable, NULL},
      {"seqpacketConnect", NULL, seqpacket_connect, NULL, NULL, NULL, napi_enumerable, NULL},
      {"seqpacketAccept", NULL, seqpacket_accept, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sendFds", NULL, send_fds, NULL, NULL, NULL, napi_enumerable, NULL},
      {"recvFds", NULL, recv_fds, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pollStart", NULL, poll_start, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pollWatch", NULL, poll_watch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pollClose", NULL, poll_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"trimHeap", NULL, trim_heap, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
