#pragma once
// Graceful interruption of a run. While an InterruptScope is alive, SIGINT and SIGTERM do not
// kill the process: the first one sets a flag that the run polls between blocks of steps; the run
// then finishes the block, writes a checkpoint and a partial output marked incomplete, and the
// command exits with kExitInterrupted. A second SIGINT/SIGTERM removes the temporary files and
// kills the process at once (default action). Outside a scope, the handlers of
// io::install_signal_cleanup() apply (remove temporaries, die). SIGKILL cannot be caught: the
// atomic writers guarantee that it never leaves an incomplete file under a final name.
#include <csignal>

namespace soret {

/// Exit status of a run stopped by SIGINT/SIGTERM after writing its checkpoint (EX_TEMPFAIL:
/// "try again later" — with --restart).
inline constexpr int kExitInterrupted = 75;

/// Has a SIGINT/SIGTERM arrived (inside a scope)? Async-signal-safe flag read.
bool interrupt_requested() noexcept;
/// The signal that asked for the stop (0: none).
int interrupt_signal() noexcept;
/// Sets the flag as a signal would (tests, and SORET_TEST_INTERRUPT_AT; see the CLI).
void request_interrupt(int sig = SIGTERM) noexcept;
void clear_interrupt() noexcept;

/// Installs the stop-at-the-next-block handlers for SIGINT and SIGTERM; restores the previous
/// handlers (the temporaries' cleanup) when destroyed. Not nestable.
class InterruptScope {
 public:
  InterruptScope();
  ~InterruptScope();
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;

 private:
  struct sigaction old_int_{}, old_term_{};
};

}  // namespace soret
