// lienthong-echo: a small HTTP/1.1 keep-alive echo backend for the benchmarks.
//
// Every request is answered with 200 and the request body; Content-Type is copied from the
// request (application/octet-stream when absent). Only Content-Length bodies are accepted:
// a request with Transfer-Encoding gets 411. Plain C++20 + POSIX: one listening socket,
// accepted connections handed round-robin to N worker threads, each with its own epoll
// (level-triggered) and non-blocking sockets. Pipelined requests are answered in order.
//
//   lienthong-echo [--address 127.0.0.1] [--port 0] [--threads 2] [--max-body 64MiB]
//                  [--report-every N]
//
// Prints "listening on ADDRESS:PORT" (flushed) once it accepts connections, and with
// --report-every "answered TOTAL" each time TOTAL echoed requests reach a multiple of N
// (so that a benchmark sees a drain end without polling anything heavier); exits 0 on
// SIGTERM or SIGINT.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

namespace {

std::atomic<std::uint64_t> g_answered{0};
std::uint64_t g_report_every = 0;  // 0: no reports

constexpr std::size_t kMaxHeaderBytes = 64 * 1024;
constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::uint64_t kListenTag = ~std::uint64_t{0};
constexpr std::uint64_t kWakeTag = ~std::uint64_t{0} - 1;

std::atomic<bool> g_stop{false};

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "lienthong-echo: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// True when the comma-separated header value lists `token` (case-insensitive).
bool has_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    if (iequals(trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

// One parsed request head. Offsets are relative to the start of the request in the
// connection's input buffer, so they survive compaction of that buffer.
struct Head {
  std::size_t head_len = 0;  // bytes up to and including the blank line
  std::size_t body_len = 0;
  std::size_t ctype_off = 0;  // Content-Type value
  std::size_t ctype_len = 0;
  bool keep_alive = true;
  bool http10 = false;
  bool expect_continue = false;
};

enum class ParseResult { ok, bad_request, length_required, too_large };

struct Conn {
  int fd = -1;
  std::vector<char> in;  // [begin, end) holds unread input
  std::size_t begin = 0;
  std::size_t end = 0;
  std::size_t scanned = 0;  // bytes after `begin` already searched for the blank line
  bool have_head = false;
  Head head;
  bool continue_sent = false;
  std::string out;  // bytes that did not fit in the socket
  std::size_t out_off = 0;
  bool close_after_write = false;
  bool want_write = false;  // epoll interest is EPOLLOUT instead of EPOLLIN
};

ParseResult parse_head(const char* p, std::size_t head_len, std::size_t max_body, Head& h) {
  h = Head{};
  h.head_len = head_len;
  const std::string_view head(p, head_len - 2);  // keeps the CRLF of the last header line
  std::size_t eol = head.find("\r\n");
  if (eol == std::string_view::npos) return ParseResult::bad_request;
  const std::string_view line = head.substr(0, eol);
  const std::size_t sp1 = line.find(' ');
  const std::size_t sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp1 == 0 || sp2 == sp1) return ParseResult::bad_request;
  const std::string_view version = line.substr(sp2 + 1);
  if (version == "HTTP/1.0") {
    h.http10 = true;
    h.keep_alive = false;
  } else if (version != "HTTP/1.1") {
    return ParseResult::bad_request;
  }

  bool have_length = false;
  std::size_t pos = eol + 2;
  while (pos < head.size()) {
    eol = head.find("\r\n", pos);
    if (eol == std::string_view::npos) return ParseResult::bad_request;
    const std::string_view field = head.substr(pos, eol - pos);
    const std::size_t field_off = pos;
    pos = eol + 2;
    const std::size_t colon = field.find(':');
    if (colon == std::string_view::npos || colon == 0) return ParseResult::bad_request;
    const std::string_view name = field.substr(0, colon);
    if (name.back() == ' ' || name.back() == '\t') return ParseResult::bad_request;
    const std::string_view value = trim(field.substr(colon + 1));
    if (iequals(name, "content-length")) {
      std::size_t n = 0;
      const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (value.empty() || ec != std::errc{} || ptr != value.data() + value.size()) {
        return ParseResult::bad_request;
      }
      if (have_length && n != h.body_len) return ParseResult::bad_request;
      have_length = true;
      h.body_len = n;
    } else if (iequals(name, "transfer-encoding")) {
      return ParseResult::length_required;
    } else if (iequals(name, "content-type")) {
      h.ctype_off = field_off + static_cast<std::size_t>(value.data() - field.data());
      h.ctype_len = value.size();
    } else if (iequals(name, "connection")) {
      if (has_token(value, "close")) {
        h.keep_alive = false;
      } else if (h.http10 && has_token(value, "keep-alive")) {
        h.keep_alive = true;
      }
    } else if (iequals(name, "expect")) {
      h.expect_continue = iequals(value, "100-continue");
    }
  }
  if (h.body_len > max_body) return ParseResult::too_large;
  return ParseResult::ok;
}

class Worker {
 public:
  Worker(std::size_t max_body, int listen_fd) : max_body_(max_body), listen_fd_(listen_fd) {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) die("epoll_create1");
    wake_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_ < 0) die("eventfd");
    add(wake_, kWakeTag, EPOLLIN);
    if (listen_fd_ >= 0) add(listen_fd_, kListenTag, EPOLLIN);
  }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  ~Worker() {
    for (auto& c : conns_) {
      if (c) ::close(c->fd);
    }
    ::close(wake_);
    ::close(ep_);
  }

  void set_peers(std::vector<Worker*> peers) { peers_ = std::move(peers); }

  // Called from another thread: hands an accepted connection to this worker.
  void adopt(int fd) {
    {
      const std::lock_guard lock(mu_);
      handed_.push_back(fd);
    }
    wake();
  }

  void wake() {
    const std::uint64_t one = 1;
    if (::write(wake_, &one, sizeof one) < 0 && errno != EAGAIN) die("eventfd write");
  }

  void run() {
    std::vector<epoll_event> events(256);
    while (!g_stop.load(std::memory_order_relaxed)) {
      const int n = epoll_wait(ep_, events.data(), static_cast<int>(events.size()), -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        die("epoll_wait");
      }
      for (int i = 0; i < n; ++i) {
        const std::uint64_t tag = events[static_cast<std::size_t>(i)].data.u64;
        const std::uint32_t ev = events[static_cast<std::size_t>(i)].events;
        if (tag == kListenTag) {
          accept_all();
        } else if (tag == kWakeTag) {
          drain_wake();
        } else {
          on_event(static_cast<int>(tag), ev);
        }
      }
    }
  }

 private:
  void add(int fd, std::uint64_t tag, std::uint32_t events) {
    epoll_event e{};
    e.events = events;
    e.data.u64 = tag;
    if (epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &e) < 0) die("epoll_ctl add");
  }

  void set_interest(Conn& c, bool want_write) {
    if (c.want_write == want_write) return;
    c.want_write = want_write;
    epoll_event e{};
    e.events = want_write ? EPOLLOUT : EPOLLIN;
    e.data.u64 = static_cast<std::uint64_t>(c.fd);
    if (epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &e) < 0) die("epoll_ctl mod");
  }

  void accept_all() {
    for (;;) {
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
        if (errno == EMFILE || errno == ENFILE) {
          std::fprintf(stderr, "lienthong-echo: accept: %s\n", std::strerror(errno));
          return;
        }
        die("accept4");
      }
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      Worker* target = peers_[next_peer_++ % peers_.size()];
      if (target == this) {
        open(fd);
      } else {
        target->adopt(fd);
      }
    }
  }

  void drain_wake() {
    std::uint64_t v = 0;
    while (::read(wake_, &v, sizeof v) > 0) {
    }
    std::vector<int> fds;
    {
      const std::lock_guard lock(mu_);
      fds.swap(handed_);
    }
    for (const int fd : fds) open(fd);
  }

  void open(int fd) {
    const auto idx = static_cast<std::size_t>(fd);
    if (idx >= conns_.size()) conns_.resize(idx + 64);
    auto c = std::make_unique<Conn>();
    c->fd = fd;
    c->in.resize(kReadChunk);
    add(fd, static_cast<std::uint64_t>(fd), EPOLLIN);
    conns_[idx] = std::move(c);
  }

  void close_conn(Conn& c) {
    const int fd = c.fd;
    ::close(fd);  // also removes it from the epoll set
    conns_[static_cast<std::size_t>(fd)].reset();
  }

  void on_event(int fd, std::uint32_t ev) {
    const auto idx = static_cast<std::size_t>(fd);
    if (idx >= conns_.size() || !conns_[idx]) return;
    Conn& c = *conns_[idx];
    if ((ev & (EPOLLERR | EPOLLHUP)) != 0 && (ev & (EPOLLIN | EPOLLOUT)) == 0) {
      close_conn(c);
      return;
    }
    if (c.want_write) {
      if (!flush(c)) return;     // closed
      if (c.want_write) return;  // still blocked
      if (c.close_after_write) {
        close_conn(c);
        return;
      }
      // Output drained: answer what is already buffered before reading more.
      process(c);
      return;
    }
    if (!read_some(c)) return;
    process(c);
  }

  // Reads once (level-triggered epoll reports again if more is waiting).
  // Returns false when the connection was closed.
  bool read_some(Conn& c) {
    if (c.begin == c.end) {
      c.begin = c.end = 0;
    }
    if (c.in.size() - c.end < kReadChunk / 4) {
      if (c.begin > 0) {
        std::memmove(c.in.data(), c.in.data() + c.begin, c.end - c.begin);
        c.end -= c.begin;
        c.begin = 0;
      }
      if (c.in.size() - c.end < kReadChunk / 4) {
        std::size_t want = c.end + kReadChunk;
        if (c.have_head) want = std::max(want, c.head.head_len + c.head.body_len);
        c.in.resize(want);
      }
    }
    const ssize_t n = ::recv(c.fd, c.in.data() + c.end, c.in.size() - c.end, 0);
    if (n > 0) {
      c.end += static_cast<std::size_t>(n);
      return true;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return true;
    close_conn(c);
    return false;
  }

  // Answers every complete request in the buffer. Returns false when the connection was
  // closed.
  bool process(Conn& c) {
    while (!c.want_write) {
      if (!c.have_head) {
        // Some clients send a stray CRLF after a body; RFC 9112 says to ignore it.
        while (c.begin < c.end && (c.in[c.begin] == '\r' || c.in[c.begin] == '\n')) {
          ++c.begin;
          c.scanned = 0;
        }
        const std::size_t avail = c.end - c.begin;
        const char* base = c.in.data() + c.begin;
        const std::size_t from = c.scanned >= 3 ? c.scanned - 3 : 0;
        const std::string_view view(base, avail);
        const std::size_t blank = view.find("\r\n\r\n", from);
        if (blank == std::string_view::npos) {
          c.scanned = avail;
          if (avail > kMaxHeaderBytes) return fail(c, 431, "Request Header Fields Too Large");
          return true;
        }
        c.scanned = 0;
        switch (parse_head(base, blank + 4, max_body_, c.head)) {
          case ParseResult::ok:
            break;
          case ParseResult::length_required:
            return fail(c, 411, "Length Required");
          case ParseResult::too_large:
            return fail(c, 413, "Content Too Large");
          case ParseResult::bad_request:
            return fail(c, 400, "Bad Request");
        }
        c.have_head = true;
        c.continue_sent = false;
      }
      const std::size_t need = c.head.head_len + c.head.body_len;
      if (c.end - c.begin < need) {
        if (c.head.expect_continue && !c.head.http10 && !c.continue_sent) {
          c.continue_sent = true;
          static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
          if (!send_parts(c, kContinue, {})) return false;
        }
        return true;
      }
      if (!respond(c)) return false;
    }
    return true;
  }

  bool respond(Conn& c) {
    const char* req = c.in.data() + c.begin;
    const Head& h = c.head;
    const std::string_view ctype = h.ctype_len > 0
                                       ? std::string_view(req + h.ctype_off, h.ctype_len)
                                       : std::string_view("application/octet-stream");
    std::string& hdr = scratch_;
    hdr.clear();
    hdr.append("HTTP/1.1 200 OK\r\nContent-Type: ");
    hdr.append(ctype);
    hdr.append("\r\nContent-Length: ");
    char num[24];
    const auto res = std::to_chars(num, num + sizeof num, h.body_len);
    hdr.append(num, res.ptr);
    if (!h.keep_alive) {
      hdr.append("\r\nConnection: close");
    } else if (h.http10) {
      hdr.append("\r\nConnection: keep-alive");
    }
    hdr.append("\r\n\r\n");
    const std::string_view body(req + h.head_len, h.body_len);
    const bool keep = h.keep_alive;
    c.have_head = false;
    if (!keep) c.close_after_write = true;
    if (!send_parts(c, hdr, body)) return false;
    if (g_report_every != 0) {
      const std::uint64_t n = g_answered.fetch_add(1, std::memory_order_relaxed) + 1;
      if (n % g_report_every == 0) {
        std::printf("answered %llu\n", static_cast<unsigned long long>(n));
        std::fflush(stdout);
      }
    }
    c.begin += h.head_len + h.body_len;
    if (!keep && !c.want_write) {
      close_conn(c);
      return false;
    }
    if (!keep) c.begin = c.end;  // ignore anything after a closing request
    return true;
  }

  bool fail(Conn& c, int status, std::string_view reason) {
    std::string& msg = scratch_;
    msg.clear();
    msg.append("HTTP/1.1 ");
    msg.append(std::to_string(status));
    msg.append(" ");
    msg.append(reason);
    msg.append("\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    c.close_after_write = true;
    c.begin = c.end;
    c.have_head = false;
    if (!send_parts(c, msg, {})) return false;
    if (!c.want_write) {
      ::shutdown(c.fd, SHUT_WR);
      close_conn(c);
      return false;
    }
    return true;
  }

  // Sends a + b, or queues what the socket did not take and switches to EPOLLOUT.
  // Returns false when the connection was closed.
  bool send_parts(Conn& c, std::string_view a, std::string_view b) {
    if (c.want_write) {  // already blocked: keep the order
      c.out.append(a);
      c.out.append(b);
      return true;
    }
    iovec iov[2];
    iov[0].iov_base = const_cast<char*>(a.data());
    iov[0].iov_len = a.size();
    iov[1].iov_base = const_cast<char*>(b.data());
    iov[1].iov_len = b.size();
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = b.empty() ? 1 : 2;
    std::size_t sent = 0;
    const std::size_t total = a.size() + b.size();
    while (sent < total) {
      const ssize_t n = ::sendmsg(c.fd, &msg, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        close_conn(c);
        return false;
      }
      sent += static_cast<std::size_t>(n);
      // Advance the iovecs past what was sent.
      std::size_t left = static_cast<std::size_t>(n);
      while (left > 0 && msg.msg_iovlen > 0) {
        if (left >= msg.msg_iov[0].iov_len) {
          left -= msg.msg_iov[0].iov_len;
          ++msg.msg_iov;
          --msg.msg_iovlen;
        } else {
          msg.msg_iov[0].iov_base = static_cast<char*>(msg.msg_iov[0].iov_base) + left;
          msg.msg_iov[0].iov_len -= left;
          left = 0;
        }
      }
    }
    if (sent < total) {
      c.out.clear();
      c.out_off = 0;
      if (sent < a.size()) {
        c.out.append(a.substr(sent));
        c.out.append(b);
      } else {
        c.out.append(b.substr(sent - a.size()));
      }
      set_interest(c, true);
    }
    return true;
  }

  // Writes queued output. Returns false when the connection was closed.
  bool flush(Conn& c) {
    while (c.out_off < c.out.size()) {
      const ssize_t n =
          ::send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
        close_conn(c);
        return false;
      }
      c.out_off += static_cast<std::size_t>(n);
    }
    c.out.clear();
    c.out_off = 0;
    if (c.out.capacity() > 4 * kReadChunk) c.out.shrink_to_fit();
    set_interest(c, false);
    return true;
  }

  std::size_t max_body_;
  int listen_fd_;
  int ep_ = -1;
  int wake_ = -1;
  std::vector<std::unique_ptr<Conn>> conns_;  // indexed by fd
  std::vector<Worker*> peers_;
  std::size_t next_peer_ = 0;
  std::mutex mu_;
  std::vector<int> handed_;
  std::string scratch_;
};

bool parse_uint(std::string_view s, std::size_t& out) {
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return !s.empty() && ec == std::errc{} && ptr == s.data() + s.size();
}

bool parse_size(std::string_view s, std::size_t& out) {
  std::size_t mult = 1;
  if (s.ends_with("KiB")) {
    mult = std::size_t{1} << 10;
  } else if (s.ends_with("MiB")) {
    mult = std::size_t{1} << 20;
  } else if (s.ends_with("GiB")) {
    mult = std::size_t{1} << 30;
  }
  if (mult != 1) s.remove_suffix(3);
  std::size_t n = 0;
  if (!parse_uint(s, n)) return false;
  out = n * mult;
  return true;
}

[[noreturn]] void usage(int code) {
  std::fprintf(code == 0 ? stdout : stderr,
               "usage: lienthong-echo [--address A] [--port N] [--threads N] [--max-body SIZE]\n"
               "                      [--report-every N]\n"
               "  --address A      address to listen on (default 127.0.0.1)\n"
               "  --port N         port, 0 = any free port (default 0)\n"
               "  --threads N      worker threads (default 2)\n"
               "  --max-body SIZE  larger requests get 413 (default 64MiB)\n"
               "  --report-every N print \"answered TOTAL\" at every N-th echoed request\n");
  std::exit(code);
}

}  // namespace

int main(int argc, char** argv) {
  std::string address = "127.0.0.1";
  std::size_t port = 0;
  std::size_t threads = 2;
  std::size_t max_body = std::size_t{64} << 20;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") usage(0);
    if (i + 1 >= argc) usage(2);
    const std::string_view val = argv[++i];
    if (arg == "--address") {
      address = std::string(val);
    } else if (arg == "--port") {
      if (!parse_uint(val, port) || port > 65535) usage(2);
    } else if (arg == "--threads") {
      if (!parse_uint(val, threads) || threads == 0 || threads > 256) usage(2);
    } else if (arg == "--max-body") {
      if (!parse_size(val, max_body)) usage(2);
    } else if (arg == "--report-every") {
      std::size_t n = 0;
      if (!parse_uint(val, n) || n == 0) usage(2);
      g_report_every = n;
    } else {
      usage(2);
    }
  }

  // SIGTERM/SIGINT are taken by sigwait in the main thread; workers inherit the mask.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  if (pthread_sigmask(SIG_BLOCK, &sigs, nullptr) != 0) die("pthread_sigmask");
  std::signal(SIGPIPE, SIG_IGN);

  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (inet_pton(AF_INET, address.c_str(), &addr.sin_addr) != 1) {
    std::fprintf(stderr, "lienthong-echo: bad IPv4 address: %s\n", address.c_str());
    return 2;
  }
  const int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (lfd < 0) die("socket");
  const int one = 1;
  if (setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) die("SO_REUSEADDR");
  if (bind(lfd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) < 0) die("bind");
  if (listen(lfd, 4096) < 0) die("listen");
  socklen_t len = sizeof addr;
  if (getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len) < 0) die("getsockname");

  // Worker 0 accepts and hands connections out round-robin (itself included), so load
  // is spread evenly even when a client opens all its connections in one burst.
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<Worker*> peers;
  for (std::size_t i = 0; i < threads; ++i) {
    workers.push_back(std::make_unique<Worker>(max_body, i == 0 ? lfd : -1));
    peers.push_back(workers.back().get());
  }
  for (auto& w : workers) w->set_peers(peers);

  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (auto& w : workers) pool.emplace_back([wp = w.get()] { wp->run(); });

  char text[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &addr.sin_addr, text, sizeof text);
  std::printf("listening on %s:%u\n", text, static_cast<unsigned>(ntohs(addr.sin_port)));
  std::fflush(stdout);

  int sig = 0;
  while (sigwait(&sigs, &sig) != 0) {
  }
  g_stop.store(true);
  for (auto& w : workers) w->wake();
  for (auto& t : pool) t.join();
  workers.clear();
  ::close(lfd);
  return 0;
}
