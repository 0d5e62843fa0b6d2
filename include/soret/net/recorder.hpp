#pragma once
// Named record columns: records x networks (x width) tables of doubles. The trainers fill them,
// the HDF5 writer, the summaries and the equality tests read them by name, so adding a
// measurement is adding one column.
#include <cstddef>
#include <string>
#include <vector>

namespace soret::net {

class Recorder {
 public:
  struct Column {
    std::string name, unit, description;
    std::vector<std::string> labels;  ///< one per entry of the last axis; empty: one value per network
    std::vector<double> v;            ///< records x networks x width, row-major
    std::size_t width() const { return labels.empty() ? 1 : labels.size(); }
  };

  Recorder() = default;
  Recorder(std::size_t records, std::size_t networks) : R_(records), E_(networks) {}

  /// Adds a column (values NaN until written); returns its index.
  int add(const std::string& name, std::vector<std::string> labels, const std::string& unit,
          const std::string& description);
  /// The width() values of column c at record r for network e.
  double* at(int c, std::size_t r, std::size_t e) { return &cols_[c].v[(r * E_ + e) * cols_[c].width()]; }
  const Column& column(const std::string& name) const;  ///< throws std::out_of_range if absent
  bool has(const std::string& name) const;
  /// records x networks values of entry j of a column.
  std::vector<double> slice(const std::string& name, std::size_t j = 0) const;
  /// Sets every column of network e to NaN from record r on (a diverged network).
  void invalidate(std::size_t e, std::size_t from_record);
  const std::vector<Column>& columns() const { return cols_; }
  /// Keeps the first `rows` records (fewer records: the state of a run at a step).
  void keep_rows(std::size_t rows);
  /// Copies the first `rows` records of every column of `o` (same columns and networks).
  void copy_rows(const Recorder& o, std::size_t rows);
  /// Sets the values of column c (records x networks x width; a reader's).
  void set_values(int c, std::vector<double> v) { cols_[c].v = std::move(v); }
  std::size_t records() const { return R_; }
  std::size_t networks() const { return E_; }

 private:
  std::size_t R_ = 0, E_ = 0;
  std::vector<Column> cols_;
};

}  // namespace soret::net
