// Result<T>: a small std::expected-shaped type (g++ 12 has no <expected>).
// Libraries return Result and add context on the way up; nothing throws across a library edge.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <variant>

namespace vrift {

/// An error: a human-readable message (already including its context chain) and, where the
/// failure came from the OS, the errno value that caused it (0 otherwise).
class Error {
public:
  Error() = default;
  explicit Error(std::string msg, int errnum = 0) : m_msg(std::move(msg)), m_errno(errnum) {}

  const std::string& message() const { return m_msg; }
  int errnum() const { return m_errno; }

  /// Prefixes the message with what the caller was doing: "ctx: message".
  Error& context(const std::string& ctx) {
    m_msg = ctx + ": " + m_msg;
    return *this;
  }

private:
  std::string m_msg;
  int m_errno = 0;
};

/// An Error from errno: "what: strerror(errno)".
inline Error os_error(const std::string& what, int errnum = errno) {
  return Error(what + ": " + std::strerror(errnum), errnum);
}

struct Unexpected {
  Error error;
};
inline Unexpected fail(Error e) { return Unexpected{std::move(e)}; }
inline Unexpected fail(std::string msg, int errnum = 0) {
  return Unexpected{Error(std::move(msg), errnum)};
}
inline Unexpected fail_os(const std::string& what, int errnum = errno) {
  return Unexpected{os_error(what, errnum)};
}

template <typename T> class [[nodiscard]] Result {
public:
  Result(T value) : m_v(std::in_place_index<0>, std::move(value)) {} // NOLINT: implicit by design
  Result(Unexpected u) : m_v(std::in_place_index<1>, std::move(u.error)) {} // NOLINT

  bool ok() const { return m_v.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(m_v); }
  const T& value() const& { return std::get<0>(m_v); }
  T&& value() && { return std::get<0>(std::move(m_v)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const& { return std::get<1>(m_v); }
  Error&& error() && { return std::get<1>(std::move(m_v)); }

  /// Adds context to an error; a success passes through untouched. Returns by value so that
  /// `VRIFT_TRY(f().context("x"))` holds a live object, not a reference to a dead temporary.
  Result context(const std::string& ctx) && {
    if (!ok()) std::get<1>(m_v).context(ctx);
    return std::move(*this);
  }

private:
  std::variant<T, Error> m_v;
};

template <> class [[nodiscard]] Result<void> {
public:
  Result() = default;
  Result(Unexpected u) : m_err(std::move(u.error)), m_ok(false) {} // NOLINT

  bool ok() const { return m_ok; }
  explicit operator bool() const { return m_ok; }
  const Error& error() const& { return m_err; }
  Error&& error() && { return std::move(m_err); }
  Result context(const std::string& ctx) && {
    if (!m_ok) m_err.context(ctx);
    return std::move(*this);
  }

private:
  Error m_err;
  bool m_ok = true;
};

using Status = Result<void>;

} // namespace vrift

/// Evaluates a Result expression; on error returns it (as Unexpected) from the enclosing function.
#define VRIFT_TRY(expr)                                                                            \
  do {                                                                                             \
    auto&& vrift_try_r_ = (expr);                                                                  \
    if (!vrift_try_r_.ok()) return ::vrift::fail(std::move(vrift_try_r_).error());                 \
  } while (0)

#define VRIFT_CONCAT_INNER(a, b) a##b
#define VRIFT_CONCAT(a, b) VRIFT_CONCAT_INNER(a, b)
/// `VRIFT_ASSIGN(auto x, expr)`: unwraps a Result into x or returns its error.
#define VRIFT_ASSIGN(decl, expr) VRIFT_ASSIGN_IMPL(VRIFT_CONCAT(vrift_r_, __LINE__), decl, expr)
#define VRIFT_ASSIGN_IMPL(tmp, decl, expr)                                                         \
  auto tmp = (expr);                                                                               \
  if (!tmp.ok()) return ::vrift::fail(std::move(tmp).error());                                     \
  decl = std::move(tmp).value()
