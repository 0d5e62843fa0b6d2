// Report of `soret check`: Markdown and JSON tables, and the fields in HDF5.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "soret/check/check.hpp"
#include "soret/common/error.hpp"
#include "soret/io/atomic_file.hpp"
#include "soret/io/hdf5.hpp"
#include "soret/io/walk_output.hpp"
#include "soret/version.hpp"

namespace soret::check {

namespace {

std::string num(double v) {
  if (!std::isfinite(v)) return "null";
  char b[64];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

std::string json_str(const std::string& s) {
  std::string o = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') o += '\\';
    o += ch;
  }
  return o + "\"";
}


}  // namespace

void write_report(const Report& r, const std::string& dir) {
  io::check_output_dir(dir, "report");

  std::ostringstream md;
  md << "# soret check report\n\n"
     << "soret " << soret::version << ", " << (r.fast ? "fast subset" : "full suite") << ", "
     << num(r.seconds) << " s. Suite: **" << (r.passed() ? "PASSED" : "FAILED") << "** (every gating row |z| < 5).\n\n"
     << "z = (measured - predicted) / SE, SE from 16 independent replicas: z follows Student's t with 15 degrees of "
        "freedom, so a correct row fails |z| < 5 with probability 1.6e-4 (a row with SE = 0 fails). *Gating* rows compare the simulator "
        "with the controlled theory of the walk (validation/THEORY.md); *paper* rows give the verdict on a "
        "paper equation or of a truncated expansion (confirmed: |z| < 5; refuted: |z| >= 5). Profile rows: Hotelling "
        "T^2 on 6 Fourier modes with the replica covariance, z = normal quantile of its F-test p-value.\n\n"
     << "| scenario | quantity | compared with | measured | SE | prediction | predicted | z | kind | verdict | note |\n"
     << "|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& row : r.rows)
    md << "| " << row.scenario << " | " << row.quantity << " | " << row.equation << " | " << num(row.measured) << " | "
       << (row.se > 0 ? num(row.se) : "-") << " | " << row.prediction << " | " << num(row.predicted) << " | "
       << num(row.z) << " | " << (row.gating ? "gating" : (row.theory_only ? "theory" : "paper"))
       << " | " << row.verdict << " | " << row.note << " |\n";
  // The three files replace their predecessors together: all are written (every write checked,
  // fsync) before any is renamed into place, so a full disk leaves the previous report whole.
  io::AtomicOutput md_file(dir + "/report.md", "report");
  md_file.write(md.str());
  md_file.prepare();

  std::ostringstream js;
  js << "{\n  \"program\": \"soret\",\n  \"version\": " << json_str(soret::version) << ",\n  \"fast\": "
     << (r.fast ? "true" : "false") << ",\n  \"seconds\": " << num(r.seconds) << ",\n  \"passed\": "
     << (r.passed() ? "true" : "false") << ",\n  \"rows\": [\n";
  for (size_t i = 0; i < r.rows.size(); ++i) {
    const auto& row = r.rows[i];
    js << "    {\"scenario\": " << json_str(row.scenario) << ", \"quantity\": " << json_str(row.quantity)
       << ", \"equation\": " << json_str(row.equation) << ", \"measured\": " << num(row.measured)
       << ", \"se\": " << num(row.se) << ", \"prediction\": " << json_str(row.prediction)
       << ", \"predicted\": " << num(row.predicted) << ", \"z\": " << num(row.z)
       << ", \"gating\": " << (row.gating ? "true" : "false")
       << ", \"theory_only\": " << (row.theory_only ? "true" : "false") << ", \"verdict\": " << json_str(row.verdict)
       << ", \"note\": " << json_str(row.note) << "}" << (i + 1 < r.rows.size() ? "," : "") << "\n";
  }
  js << "  ]\n}\n";
  io::AtomicOutput json_file(dir + "/report.json", "report");
  json_file.write(js.str());
  json_file.prepare();

  h5::AtomicFile f(dir + "/fields.h5", "report");
  write_h5md_header(f.id(), "check");
  h5::attr(f.id(), "fast", std::int64_t(r.fast));
  for (const auto& [group, sets] : r.fields) {
    // Nested group path: create each level.
    std::string path;
    std::vector<h5::Handle> held;
    hid_t loc = f.id();
    std::stringstream ss(group);
    std::string part;
    while (std::getline(ss, part, '/')) {
      path += "/" + part;
      held.push_back(h5::exists(f.id(), path) ? h5::open_group(f.id(), path) : h5::create_group(loc, part));
      loc = held.back().id();
    }
    for (const auto& [name, v] : sets) h5::write(loc, name, v, {hsize_t(v.size())});
  }
  f.prepare();
  md_file.publish();
  json_file.publish();
  f.publish();
}

}  // namespace soret::check
