// A small table renderer for terminal output: box-drawing characters on a UTF-8 terminal,
// plain ASCII otherwise; columns sized to their widest cell (display width, not bytes).
#pragma once

#include <string>
#include <vector>

namespace vrift::cli {

class Table {
public:
  enum Align { Left, Right };
  explicit Table(std::vector<std::string> headers, std::vector<Align> align = {});
  void add_row(std::vector<std::string> cells);
  /// Renders with INDENT spaces before every line; UTF8 picks box drawing over ASCII.
  std::string render(bool utf8, int indent = 2) const;

private:
  std::vector<std::string> m_headers;
  std::vector<Align> m_align;
  std::vector<std::vector<std::string>> m_rows;
};

/// Display width of a UTF-8 string (code points; no wide-character tables).
size_t display_width(const std::string& s);

} // namespace vrift::cli
