#pragma once
// Error types shared by every layer. An InputError names the option at fault so the CLI can
// print one clear line and exit with status 2; a NumericalError reports a blow-up (NaN/inf).
#include <stdexcept>
#include <string>

namespace soret {

class InputError : public std::runtime_error {
 public:
  InputError(std::string option, const std::string& what)
      : std::runtime_error(what), option_(std::move(option)) {}
  const std::string& option() const noexcept { return option_; }

 private:
  std::string option_;
};

class NumericalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace soret
