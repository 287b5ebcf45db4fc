// ambit-cni: the chained CNI plugin's executable on a node. A node's host has no Node.js, so this is a small
// static program that hands each invocation (the CNI_* environment and the config on stdin) to the Ambit node agent
// over its Unix socket and relays the agent's answer: the agent decides (src/nodeagent/cni-plugin.ts).
//
// Wire (src/lib/cni-report.ts): one JSON line {"invoke":{"env":{...},"stdin":"..."}} to the socket named by the
// conflist entry's "nodeAgentSocket"; the agent answers "<exit code>\n<stdout bytes>" and closes.
//
// While the agent is unreachable the plugin decides alone, failing closed as the agent would: ADD of a pod outside
// the excluded namespaces fails with CNI error 11 ("try again later"), so the runtime retries and no pod starts
// unseen; ADD of an excluded pod (default kube-system) or of something that is not a pod passes the primary result
// on; DEL, CHECK, GC and STATUS succeed; VERSION never needs the agent.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

extern char **environ;

#define MAX_STDIN (1 << 20)
#define MAX_REPLY (4 << 20)
#define AGENT_TIMEOUT_S 10
#define VERSIONS "[\"0.3.0\",\"0.3.1\",\"0.4.0\",\"1.0.0\"]"

/* A growable byte buffer. */
struct buf {
  char *p;
  size_t len, cap;
};

static void put(struct buf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (b->len + n + 1 > cap) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
      fputs("ambit-cni: out of memory\n", stderr);
      exit(1);
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void puts_buf(struct buf *b, const char *s) { put(b, s, strlen(s)); }

/* Appends `s` (n bytes) as a JSON string literal. */
static void put_json_string(struct buf *b, const char *s, size_t n) {
  puts_buf(b, "\"");
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      char e[2] = {'\\', (char)c};
      put(b, e, 2);
    } else if (c < 0x20) {
      char e[8];
      snprintf(e, sizeof e, "\\u%04x", c);
      puts_buf(b, e);
    } else {
      put(b, (const char *)&s[i], 1);
    }
  }
  puts_buf(b, "\"");
}

/* ---- just enough JSON to read the plugin's own config (top-level keys of one object) ---- */

static const char *ws(const char *p) {
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  return p;
}

/* Parses a string literal at p into out (escapes \" \\ \/ \n \t \r \b \f; others kept raw); returns its end. */
static const char *parse_string(const char *p, char *out, size_t outsz) {
  size_t n = 0;
  if (*p != '"') return NULL;
  for (p++; *p && *p != '"'; p++) {
    char c = *p;
    if (c == '\\') {
      p++;
      switch (*p) {
        case 'n': c = '\n'; break;
        case 't': c = '\t'; break;
        case 'r': c = '\r'; break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'u':
          /* Not needed for paths or namespace names: keep the escape as written. */
          if (out && n + 2 < outsz) out[n++] = '\\';
          c = 'u';
          break;
        case '\0': return NULL;
        default: c = *p;
      }
    }
    if (out && n + 1 < outsz) out[n++] = c;
  }
  if (*p != '"') return NULL;
  if (out) out[n] = '\0';
  return p + 1;
}

/* Returns the end of the JSON value at p, or NULL if it is malformed. */
static const char *skip_value(const char *p) {
  p = ws(p);
  if (*p == '"') return parse_string(p, NULL, 0);
  if (*p == '{' || *p == '[') {
    char close = *p == '{' ? '}' : ']';
    p = ws(p + 1);
    if (*p == close) return p + 1;
    for (;;) {
      if (close == '}') {
        p = parse_string(ws(p), NULL, 0);
        if (!p) return NULL;
        p = ws(p);
        if (*p++ != ':') return NULL;
      }
      p = skip_value(p);
      if (!p) return NULL;
      p = ws(p);
      if (*p == ',') {
        p++;
        continue;
      }
      return *p == close ? p + 1 : NULL;
    }
  }
  const char *start = p;
  while (*p && strchr(",}] \t\r\n", *p) == NULL) p++;
  return p > start ? p : NULL;
}

/* Finds top-level `key` of the object in `json`; sets [*start, *end) to its value. */
static int find_key(const char *json, const char *key, const char **start, const char **end) {
  const char *p = ws(json);
  if (*p != '{') return 0;
  p = ws(p + 1);
  char name[256];
  while (*p == '"') {
    p = parse_string(p, name, sizeof name);
    if (!p) return 0;
    p = ws(p);
    if (*p++ != ':') return 0;
    p = ws(p);
    const char *v = p;
    p = skip_value(p);
    if (!p) return 0;
    if (strcmp(name, key) == 0) {
      *start = v;
      *end = p;
      return 1;
    }
    p = ws(p);
    if (*p == ',') p = ws(p + 1);
  }
  return 0;
}

static int string_key(const char *json, const char *key, char *out, size_t outsz) {
  const char *s, *e;
  return find_key(json, key, &s, &e) && *s == '"' && parse_string(s, out, outsz) != NULL;
}

/* Whether the top-level array `key` holds the string `needle` (absent key: `dflt`). */
static int array_has(const char *json, const char *key, const char *needle, int dflt) {
  const char *s, *e;
  if (!find_key(json, key, &s, &e) || *s != '[') return dflt;
  const char *p = ws(s + 1);
  char item[256];
  while (*p == '"') {
    p = parse_string(p, item, sizeof item);
    if (!p) return 0;
    if (strcmp(item, needle) == 0) return 1;
    p = ws(p);
    if (*p == ',') p = ws(p + 1);
  }
  return 0;
}

/* The value of `name=` in CNI_ARGS (`A=1;B=2`). */
static void cni_arg(const char *name, char *out, size_t outsz) {
  const char *args = getenv("CNI_ARGS");
  size_t n = strlen(name);
  out[0] = '\0';
  for (const char *p = args; p && *p;) {
    const char *semi = strchr(p, ';');
    size_t len = semi ? (size_t)(semi - p) : strlen(p);
    if (len > n && strncmp(p, name, n) == 0 && p[n] == '=') {
      size_t v = len - n - 1;
      if (v >= outsz) v = outsz - 1;
      memcpy(out, p + n + 1, v);
      out[v] = '\0';
      return;
    }
    p = semi ? semi + 1 : NULL;
  }
}

static int cni_error(const char *version, int code, const char *msg, const char *details) {
  struct buf b = {0};
  puts_buf(&b, "{\"cniVersion\":");
  put_json_string(&b, version, strlen(version));
  char num[32];
  snprintf(num, sizeof num, ",\"code\":%d,\"msg\":", code);
  puts_buf(&b, num);
  put_json_string(&b, msg, strlen(msg));
  if (details && *details) {
    puts_buf(&b, ",\"details\":");
    put_json_string(&b, details, strlen(details));
  }
  puts_buf(&b, "}\n");
  fwrite(b.p, 1, b.len, stdout);
  return 1;
}

/* Sends the invocation; on success writes the agent's stdout and returns its exit code, else -1 with errno set. */
static int ask_agent(const char *socket_path, const char *input, size_t input_len) {
  struct buf req = {0};
  puts_buf(&req, "{\"invoke\":{\"env\":{");
  int first = 1;
  for (char **e = environ; *e; e++) {
    const char *eq = strchr(*e, '=');
    if (!eq || strncmp(*e, "CNI_", 4) != 0) continue;
    if (!first) puts_buf(&req, ",");
    first = 0;
    put_json_string(&req, *e, (size_t)(eq - *e));
    puts_buf(&req, ":");
    put_json_string(&req, eq + 1, strlen(eq + 1));
  }
  puts_buf(&req, "},\"stdin\":");
  put_json_string(&req, input, input_len);
  puts_buf(&req, "}}\n");

  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(socket_path) >= sizeof addr.sun_path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  strcpy(addr.sun_path, socket_path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct timeval tv = {.tv_sec = AGENT_TIMEOUT_S};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) goto fail;
  for (size_t off = 0; off < req.len;) {
    ssize_t w = write(fd, req.p + off, req.len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) goto fail;
    off += (size_t)w;
  }
  struct buf reply = {0};
  char chunk[65536];
  for (;;) {
    ssize_t r = read(fd, chunk, sizeof chunk);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) goto fail;
    if (r == 0) break;
    if (reply.len + (size_t)r > MAX_REPLY) {
      errno = EMSGSIZE;
      goto fail;
    }
    put(&reply, chunk, (size_t)r);
  }
  close(fd);
  char *nl = reply.p ? memchr(reply.p, '\n', reply.len) : NULL;
  if (!nl) {
    errno = EPROTO;
    return -1;
  }
  int code = atoi(reply.p);
  fwrite(nl + 1, 1, reply.len - (size_t)(nl + 1 - reply.p), stdout);
  return code;
fail:
  {
    int saved = errno;
    close(fd);
    errno = saved;
  }
  return -1;
}

int main(void) {
  const char *command = getenv("CNI_COMMAND");
  if (!command) command = "";
  if (strcmp(command, "VERSION") == 0) {
    fputs("{\"cniVersion\":\"1.0.0\",\"supportedVersions\":" VERSIONS "}\n", stdout);
    return 0;
  }
  struct buf in = {0};
  char chunk[65536];
  for (;;) {
    ssize_t r = read(0, chunk, sizeof chunk);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    if (in.len + (size_t)r > MAX_STDIN) return cni_error("1.0.0", 7, "ambit-cni: the network configuration on stdin is larger than 1 MiB", "");
    put(&in, chunk, (size_t)r);
  }
  if (!in.p) put(&in, "", 0);
  char version[32] = "1.0.0";
  string_key(in.p, "cniVersion", version, sizeof version);
  char socket_path[256] = "";
  if (!string_key(in.p, "nodeAgentSocket", socket_path, sizeof socket_path)) {
    return cni_error(version, 7, "ambit-cni: nodeAgentSocket is not set in its conflist entry", "");
  }
  int code = ask_agent(socket_path, in.p, in.len);
  if (code >= 0) return code;

  /* The agent is unreachable: decide alone (see the header). */
  const char *why = strerror(errno);
  if (strcmp(command, "DEL") == 0 || strcmp(command, "CHECK") == 0 || strcmp(command, "GC") == 0 || strcmp(command, "STATUS") == 0) return 0;
  if (strcmp(command, "ADD") != 0) return cni_error(version, 4, "ambit-cni: unknown CNI_COMMAND", command);
  const char *prev, *prev_end;
  if (!find_key(in.p, "prevResult", &prev, &prev_end)) {
    return cni_error(version, 7, "ambit-cni is a chained plugin: it must follow a primary plugin in a conflist (no prevResult)", "");
  }
  char ns[256], name[256];
  cni_arg("K8S_POD_NAMESPACE", ns, sizeof ns);
  cni_arg("K8S_POD_NAME", name, sizeof name);
  if (!*name || array_has(in.p, "excludeNamespaces", ns, strcmp(ns, "kube-system") == 0)) {
    fwrite(prev, 1, (size_t)(prev_end - prev), stdout);
    fputc('\n', stdout);
    return 0;
  }
  char msg[1024];
  snprintf(msg, sizeof msg, "ambit-cni: the Ambit node agent is unreachable at %s; pod %s/%s waits for it", socket_path, ns, name);
  return cni_error(version, 11, msg, why);
}
