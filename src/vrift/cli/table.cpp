#include "vrift/cli/table.h"

#include <algorithm>

namespace vrift::cli {

size_t display_width(const std::string& s) {
  size_t w = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++w; // count lead bytes only
  }
  return w;
}

Table::Table(std::vector<std::string> headers, std::vector<Align> align)
    : m_headers(std::move(headers)), m_align(std::move(align)) {
  m_align.resize(m_headers.size(), Left);
}

void Table::add_row(std::vector<std::string> cells) {
  cells.resize(m_headers.size());
  m_rows.push_back(std::move(cells));
}

std::string Table::render(bool utf8, int indent) const {
  size_t n = m_headers.size();
  std::vector<size_t> width(n);
  for (size_t i = 0; i < n; ++i) {
    width[i] = display_width(m_headers[i]);
    for (const auto& r : m_rows)
      width[i] = std::max(width[i], display_width(r[i]));
  }
  const char* h = utf8 ? "\u2500" : "-";
  const char* v = utf8 ? "\u2502" : "|";
  auto rule = [&](const char* l, const char* m, const char* r) {
    std::string out(static_cast<size_t>(indent), ' ');
    out += l;
    for (size_t i = 0; i < n; ++i) {
      for (size_t k = 0; k < width[i] + 2; ++k)
        out += h;
      out += i + 1 < n ? m : r;
    }
    return out + "\n";
  };
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out(static_cast<size_t>(indent), ' ');
    out += v;
    for (size_t i = 0; i < n; ++i) {
      std::string pad(width[i] - display_width(cells[i]), ' ');
      out += ' ';
      out += m_align[i] == Right ? pad + cells[i] : cells[i] + pad;
      out += ' ';
      out += v;
    }
    return out + "\n";
  };
  std::string out;
  out += utf8 ? rule("\u250c", "\u252c", "\u2510") : rule("+", "+", "+");
  out += line(m_headers);
  out += utf8 ? rule("\u251c", "\u253c", "\u2524") : rule("+", "+", "+");
  for (const auto& r : m_rows)
    out += line(r);
  out += utf8 ? rule("\u2514", "\u2534", "\u2518") : rule("+", "+", "+");
  return out;
}

} // namespace vrift::cli
