#pragma once
// What every checkpoint file shares (walk and net): a header of root attributes and a checksum.
//
//   /  soret_checkpoint = "walk" | "net"    what state the file holds
//      format           = 1                 layout version of that state
//      version          = soret version that wrote it
//      options          = the run's defining options, INI text (option = value lines)
//      context          = facts of the run that are not options (e.g. how it continued an earlier one)
//      t                = absolute step of the state
//      checksum         = 64-bit hash (hex) of every dataset (path, shape, type class, bytes in
//                         native order, paths in name order) and of the attributes above
//
// Writers build the file with h5::AtomicFile (temporary + checked writes + fsync + rename: the
// previous checkpoint stays until the new one is complete), write their datasets, then call
// write_checkpoint_header() last. Readers call open_checkpoint(), which refuses (InputError naming
// `option`, exit status 2) a missing file, a file that is not HDF5, a checkpoint of another kind
// or format, and any file whose checksum does not match (truncated, corrupted, edited).
#include <cstdint>
#include <string>

#include "soret/io/hdf5.hpp"

namespace soret::io {

inline constexpr std::int64_t kCheckpointFormat = 1;

struct CheckpointHeader {
  std::string kind, version, options, context;
  std::uint64_t t = 0;
};

/// 64-bit hash of every dataset of the file and of the header fields.
std::uint64_t checkpoint_checksum(hid_t file, const CheckpointHeader& h);

/// Writes the header attributes and the checksum (after every dataset is written).
void write_checkpoint_header(hid_t file, const CheckpointHeader& h);

/// Opens and verifies a checkpoint of the given kind; `file` receives the open file.
CheckpointHeader open_checkpoint(const std::string& path, const std::string& kind, h5::Handle& file,
                                 const std::string& option = "restart");

/// Default checkpoint path of an output file: "run.h5" -> "run.checkpoint.h5".
std::string default_checkpoint_path(const std::string& out);
/// Path of the partial output of an interrupted run: "run.h5" -> "run.partial.h5".
std::string partial_output_path(const std::string& out);

}  // namespace soret::io
