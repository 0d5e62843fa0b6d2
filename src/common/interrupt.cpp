#include "soret/common/interrupt.hpp"

#include <csignal>

#include "soret/io/atomic_file.hpp"

namespace soret {

namespace {
volatile std::sig_atomic_t g_signal = 0;

void on_stop_signal(int sig) {
  if (g_signal != 0) {  // the second one: no more waiting
    io::remove_temporaries_signal_safe();
    ::signal(sig, SIG_DFL);
    ::raise(sig);
    return;
  }
  g_signal = sig;
}
}  // namespace

bool interrupt_requested() noexcept { return g_signal != 0; }
int interrupt_signal() noexcept { return int(g_signal); }
void request_interrupt(int sig) noexcept { g_signal = sig; }
void clear_interrupt() noexcept { g_signal = 0; }

InterruptScope::InterruptScope() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  ::sigaction(SIGINT, &sa, &old_int_);
  ::sigaction(SIGTERM, &sa, &old_term_);
  // A signal the caller ignores (nohup, a shell's background job) stays ignored.
  if (old_int_.sa_handler == SIG_IGN) ::sigaction(SIGINT, &old_int_, nullptr);
  if (old_term_.sa_handler == SIG_IGN) ::sigaction(SIGTERM, &old_term_, nullptr);
}

InterruptScope::~InterruptScope() {
  ::sigaction(SIGINT, &old_int_, nullptr);
  ::sigaction(SIGTERM, &old_term_, nullptr);
}

}  // namespace soret
