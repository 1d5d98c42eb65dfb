#pragma once
// ${...} templates, compiled once at load, rendered per message.
//
//   ${Name}               header Name ("" when absent)
//   ${Name:-fallback}     header Name, or the fallback text when absent or empty
//   ${header.Name}        header Name, even when Name is a reserved word
//   ${message.id} ${message.correlation-id} ${message.content-type} ${message.attempt}
//   ${route.id} ${trace.id} ${body} ${uuid}
//   ${now} ${now:yyyyMMddHHmmss}   time in Asia/Ho_Chi_Minh (UTC+7), Java-style pattern
//   $${                   a literal "${"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lienthong/exchange.h"

namespace lienthong {

struct TemplateError {
  std::size_t offset = 0;  // 0-based offset in the text where the problem starts
  std::string message;
};

class Template {
 public:
  struct Part;

  // Compiles; on error returns nullopt and fills `error`.
  static std::optional<Template> compile(std::string_view text, TemplateError* error);

  // Thread-safe.
  std::string render(const Exchange& exchange) const { return render(exchange, nullptr); }
  // Also lists, in `missing`, the headers that were absent or empty with no fallback.
  std::string render(const Exchange& exchange, std::vector<std::string>* missing) const;
  bool isConstant() const;
  const std::string& source() const { return source_; }

  Template(const Template&);
  Template(Template&&) noexcept;
  Template& operator=(const Template&);
  Template& operator=(Template&&) noexcept;
  ~Template();

 private:
  Template() = default;
  std::string source_;
  std::vector<Part> parts_;
};

}  // namespace lienthong
