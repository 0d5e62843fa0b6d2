// `soret walk`: options -> model, observers, initial condition -> engine -> HDF5 file + summary.
#include <omp.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "cli/restart_options.hpp"
#include "soret/common/interrupt.hpp"
#include "soret/common/mpi.hpp"
#include "soret/io/checkpoint.hpp"
#include "soret/io/walk_state.hpp"
#include "soret/common/error.hpp"
#include "soret/common/progress.hpp"
#include "soret/walk/integrator.hpp"
#include "soret/walk/kernels.hpp"
#include "soret/walk/memory_estimate.hpp"
#include "soret/io/atomic_file.hpp"
#include "soret/io/walk_output.hpp"
#include "soret/theory/stationary.hpp"
#include "soret/version.hpp"

namespace po = boost::program_options;

namespace soret::cli {

namespace {

/// One value for every axis, or one per axis.
std::vector<std::string> per_axis(const std::vector<std::string>& v, int dim, const std::string& option) {
  if (v.size() == 1) return std::vector<std::string>(dim, v[0]);
  if (static_cast<int>(v.size()) == dim) return v;
  throw InputError(option, "--" + option + " must be given once, or once per axis (" + std::to_string(dim) + "), got " +
                               std::to_string(v.size()));
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
  return out;
}

}  // namespace

int walk_main(int argc, char** argv) {
  po::options_description desc(
      "soret walk: an ensemble of walkers under q_i <- q_i - eta g_i(q) zeta_i (+ drift)\n"
      "Usage: soret walk [options]   (every option may also be set in an INI file given by --config)\n\nOptions");
  // clang-format off
  desc.add_options()
    ("help,h", "print this help and exit")
    ("config", po::value<std::string>(), "INI file with option = value lines (command line wins)")
    ("dim", po::value<int>()->default_value(1), "number of coordinates n >= 1")
    ("walkers", po::value<std::string>()->default_value("1000000"), "number of walkers (1e6 is accepted: floating notation when exactly an integer)")
    ("steps", po::value<std::string>()->default_value("1000"), "number of steps (1e4 is accepted)")
    ("eta", po::value<double>()->default_value(0.02), "step-size scale eta > 0 (a step has standard deviation eta g)")
    ("g", po::value<std::vector<std::string>>()->composing(),
        "step-size profile g_i(q), muParser syntax, once per axis (or once for all); variables q0..q{n-1} "
        "(and q in 1-D), constant eta; default 1+0.5*sin(2*_pi*q_i)")
    ("noise", po::value<std::string>()->default_value("rademacher"), "zeta law: rademacher (+-1), gaussian, uniform (unit variance)")
    ("sign-groups", po::value<std::string>()->default_value(""), "axes sharing one zeta per step, e.g. '0,1;2' (default: each axis alone)")
    ("convention", po::value<double>()->default_value(0.0), "alpha in [0,1]: g evaluated at q + alpha (q'-q); 0 Ito (paper), 0.5 Stratonovich, 1 anti-Ito")
    ("drift", po::value<std::vector<std::string>>()->composing(), "deterministic displacement per step a_i(q), once per axis (or once for all)")
    ("domain", po::value<std::vector<std::string>>()->composing(), "LO:HI per axis (or once for all); default 0:1")
    ("boundary", po::value<std::vector<std::string>>()->composing(), "periodic | reflecting | absorbing | free, per axis (or once for all); default periodic")
    ("init", po::value<std::string>()->default_value("uniform"), "uniform | point:X[,Y..] | gaussian:MU,SIGMA | density:EXPR | file:PATH")
    ("hist-axes", po::value<std::string>()->default_value("0"), "histogram axes: '0' or '0,1' (flux is counted on the first)")
    ("bins", po::value<std::string>()->default_value("100"), "bins: one value, or one per histogram axis")
    ("density-at", po::value<std::string>()->default_value("auto"), "times of the density: 'T1,T2,..' or 'every:K' or 'none'; auto = every:steps/10")
    ("density-avg", po::value<std::string>()->default_value(""), "also average the density over times A:B (inclusive)")
    ("flux-windows", po::value<std::string>()->default_value("auto"), "transition ranges 'A:B,..' (steps A->A+1..B-1->B) or 'every:K' or 'none'; auto = every:steps/10")
    ("moments-every", po::value<std::string>()->default_value("0"), "also record mean/variance every K steps (0: only at start and end; each record is a pass over the ensemble)")
    ("step-stats", po::value<bool>()->default_value(false), "record the mean and mean squared step per bin (opt-in: runs the general integrator, about 2x slower)")
    ("seed", po::value<unsigned long long>()->default_value(1), "random seed")
    ("threads", po::value<int>()->default_value(0), "OpenMP threads (0: all); results do not depend on it")
    ("out", po::value<std::string>()->default_value("soret-walk.h5"), "output HDF5 file (written atomically)")
    ("checkpoint", po::value<std::string>(), "checkpoint file (default: OUT with .checkpoint.h5; on --restart, the restart file); "
        "when given, the final state is checkpointed too, so that the run can be extended")
    ("checkpoint-every", po::value<std::string>()->default_value("0"), "write the complete state every K steps (atomically; the previous "
        "checkpoint stays until the new one is complete); 0: only on SIGINT/SIGTERM")
    ("stop-at", po::value<std::string>()->default_value("0"), "stop at step T as on SIGTERM: checkpoint, partial output, exit "
        "status 75 (a long run in pieces that fit a job's time limit; continue with --restart); 0: run to the end")
    ("restart", po::value<std::string>(), "continue the run of a checkpoint: its options are taken back (a contradicting one is "
        "refused), --steps is the total length of the run; the output equals an uninterrupted run's")
    ("progress", po::value<std::string>()->default_value("auto"), "always | auto (on a terminal) | never; without a terminal, always prints a line per 5%")
    ("quiet,q", "no progress line (unless --progress always) and no summary")
    ("block", po::value<int>()->default_value(0), "walkers per cache block; 0: auto (1024, or 8192 where a step's density row or flux arrays exceed 8 KB; fewer for runs of under 16 blocks per thread) (tuning; results do not depend on it)")
    ("chunk", po::value<int>()->default_value(256), "steps per block visit (tuning; results do not depend on it)")
    ("max-memory", po::value<std::string>()->default_value("80%"), "refuse a run whose estimated memory exceeds this (bytes, K/M/G/T, or % of the machine; 0: no limit)");
  // clang-format on

  po::variables_map vm;
  if (!parse_options(desc, argc, argv, vm)) return 0;

  // --restart: the checkpoint's state and options (read and verified before anything else).
  const bool restarting = vm.count("restart") > 0;
  WalkState rstate;
  io::CheckpointHeader rhead;
  if (restarting) {
    const std::string rpath = vm["restart"].as<std::string>();
    mpi::agreed([&] { rstate = io::read_walk_state(rpath, &rhead); }, true);  // (a rank that cannot read it stops them all)
    apply_stored_options(desc, vm, rhead.options, rpath, {"steps", "out", "checkpoint-every"});
  }

  WalkModel m;
  m.dim = vm["dim"].as<int>();
  if (m.dim < 1 || m.dim > 64) throw InputError("dim", "--dim must be in [1, 64]");
  m.eta = vm["eta"].as<double>();
  if (vm.count("g")) {
    m.g = per_axis(vm["g"].as<std::vector<std::string>>(), m.dim, "g");
  } else {
    for (int a = 0; a < m.dim; ++a) m.g.push_back("1+0.5*sin(2*_pi*q" + std::to_string(a) + ")");
  }
  if (vm.count("drift")) m.drift = per_axis(vm["drift"].as<std::vector<std::string>>(), m.dim, "drift");
  m.noise = parse_noise(vm["noise"].as<std::string>());
  m.groups = parse_sign_groups(vm["sign-groups"].as<std::string>(), m.dim);
  m.alpha = vm["convention"].as<double>();
  const auto domains = per_axis(vm.count("domain") ? vm["domain"].as<std::vector<std::string>>() : std::vector<std::string>{"0:1"}, m.dim, "domain");
  const auto bounds = per_axis(vm.count("boundary") ? vm["boundary"].as<std::vector<std::string>>() : std::vector<std::string>{"periodic"}, m.dim, "boundary");
  for (int a = 0; a < m.dim; ++a) {
    AxisSpec ax = parse_domain(domains[a]);
    ax.boundary = parse_boundary(bounds[a]);
    m.axes.push_back(ax);
  }
  m.validate();

  RunOptions opt;
  std::uint64_t stop_at = 0;
  const long long walkers = parse_int(vm["walkers"].as<std::string>(), "walkers"),
                  steps = parse_int(vm["steps"].as<std::string>(), "steps");
  if (walkers < 1) throw InputError("walkers", "--walkers must be >= 1");
  if (steps < 0) throw InputError("steps", "--steps must be >= 0");
  opt.walkers = std::uint64_t(walkers);
  opt.steps = std::uint64_t(steps);
  {
    const long long k = parse_int(vm["checkpoint-every"].as<std::string>(), "checkpoint-every");
    if (k < 0) throw InputError("checkpoint-every", "--checkpoint-every must be >= 0");
    opt.checkpoint_every = std::uint64_t(k);
  }
  {
    const long long k = parse_int(vm["stop-at"].as<std::string>(), "stop-at");
    if (k < 0) throw InputError("stop-at", "--stop-at must be >= 0");
    stop_at = std::uint64_t(k);
  }
  opt.seed = vm["seed"].as<unsigned long long>();
  opt.threads = threads_option(vm);
  opt.block = vm["block"].as<int>();
  if (opt.block < 0 || opt.block > 65536) throw InputError("block", "--block must be 0 (auto) or in [1, 65536]");
  opt.chunk = vm["chunk"].as<int>();
  if (opt.chunk < 1) throw InputError("chunk", "--chunk must be >= 1");
  const bool quiet = vm.count("quiet") > 0;
  const auto pm = progress_mode(vm["progress"].as<std::string>(), quiet);
  opt.progress = pm.enabled && mpi::root();  // (one progress line: rank 0's)
  Progress::set_log_lines(pm.log, 5.0);

  ObserverPlan plan;
  for (const auto& t : split(vm["hist-axes"].as<std::string>(), ',')) plan.hist_axes.push_back(int(parse_int(t, "hist-axes")));
  if (plan.hist_axes.empty() || plan.hist_axes.size() > 2) throw InputError("hist-axes", "--hist-axes takes one or two axes");
  for (int a : plan.hist_axes)
    if (a < 0 || a >= m.dim) throw InputError("hist-axes", "--hist-axes: axis " + std::to_string(a) + " out of range for --dim " + std::to_string(m.dim));
  auto bins = split(vm["bins"].as<std::string>(), ',');
  if (bins.size() == 1) bins.assign(plan.hist_axes.size(), bins[0]);
  if (bins.size() != plan.hist_axes.size()) throw InputError("bins", "--bins: give one value, or one per histogram axis");
  for (size_t h = 0; h < bins.size(); ++h) {
    const long long b = parse_int(bins[h], "bins");
    if (b < 1 || b > 100000000) throw InputError("bins", "--bins must be in [1, 1e8]");
    const auto& ax = m.axes[plan.hist_axes[h]];
    plan.lattice.emplace_back(ax.lo, ax.hi, int(b));
  }
  const std::uint64_t tenth = std::max<std::uint64_t>(1, opt.steps / 10);
  auto dens = vm["density-at"].as<std::string>();
  if (dens == "auto") dens = "every:" + std::to_string(tenth);
  plan.density_times = parse_times(dens, opt.steps, "density-at");
  const auto davg = vm["density-avg"].as<std::string>();
  if (!davg.empty()) {
    const auto ab = split(davg, ':');
    if (ab.size() != 2) throw InputError("density-avg", "--density-avg must be A:B");
    const long long a = parse_int(ab[0], "density-avg"), b = parse_int(ab[1], "density-avg");
    if (a < 0 || b < a || b > steps) throw InputError("density-avg", "--density-avg A:B needs 0 <= A <= B <= steps");
    plan.density_avg = Window{std::uint64_t(a), std::uint64_t(b)};
  }
  auto fw = vm["flux-windows"].as<std::string>();
  if (fw == "auto") fw = "every:" + std::to_string(tenth);
  plan.flux_windows = parse_windows(fw, opt.steps, "flux-windows");
  {
    const long long k = parse_int(vm["moments-every"].as<std::string>(), "moments-every");
    if (k < 0) throw InputError("moments-every", "--moments-every must be >= 0");
    plan.moments_every = std::uint64_t(k);
  }
  plan.step_stats = vm["step-stats"].as<bool>();

  // --init file: continues the stored ensemble at its absolute step /final/t, with its seed unless
  // --seed is given (then an independent continuation: other noise from the same state). The
  // noise is keyed on (seed, walker, absolute step), so a continuation with the stored seed makes
  // exactly the steps an uninterrupted run would have made.
  const InitSpec init = InitSpec::parse(vm["init"].as<std::string>(), m.dim);
  StoredEnsemble stored;
  std::string continuation = "none";
  if (init.kind == InitSpec::Kind::file && restarting) {
    // The checkpoint holds the state; the file that began the run is not read again.
    opt.t_begin = rstate.t_begin;
    continuation = rhead.context.rfind("continuation = ", 0) == 0 ? rhead.context.substr(15) : rhead.context;
    for (auto& t : plan.density_times) t += opt.t_begin;
    if (plan.density_avg) plan.density_avg = Window{plan.density_avg->first + opt.t_begin, plan.density_avg->second + opt.t_begin};
    for (auto& w : plan.flux_windows) w = Window{w.first + opt.t_begin, w.second + opt.t_begin};
  } else if (init.kind == InitSpec::Kind::file) {
    mpi::agreed([&] { stored = read_stored_ensemble(init.path); }, true);
    try {  // shapes, values and domain, before the file's walker count is used for anything
      validate_stored_ensemble(stored, m);
    } catch (const InputError& e) {
      throw InputError("init", std::string(e.what()) + " (in '" + init.path + "')");
    }
    if (vm["walkers"].defaulted()) opt.walkers = stored.walkers;
    opt.t_begin = stored.t;
    if (vm["seed"].defaulted()) {
      if (!stored.has_seed)
        throw InputError("seed", "--init file: '" + init.path + "' stores no seed; give --seed (an independent continuation)");
      opt.seed = stored.seed;
      continuation = "same noise stream (the stored seed " + std::to_string(stored.seed) + ", from step " + std::to_string(stored.t) + ")";
    } else {
      continuation = stored.has_seed && stored.seed == opt.seed
                         ? "same noise stream (--seed equals the stored seed, from step " + std::to_string(stored.t) + ")"
                         : "independent (--seed " + std::to_string(opt.seed) + " differs from the stored run's seed)";
    }
    // Time options count steps from the start of this run; the output records absolute steps.
    for (auto& t : plan.density_times) t += opt.t_begin;
    if (plan.density_avg) plan.density_avg = Window{plan.density_avg->first + opt.t_begin, plan.density_avg->second + opt.t_begin};
    for (auto& w : plan.flux_windows) w = Window{w.first + opt.t_begin, w.second + opt.t_begin};
  }

  const std::string out = vm["out"].as<std::string>();
  const bool root = mpi::root();  // rank 0 writes every file
  // A bad place is refused before the run, not after it (checked by rank 0, which writes; every rank stops).
  mpi::agreed([&] { io::check_output_file(out, "out"); });
  // Checkpoints: to --checkpoint, or the restart file, or OUT.checkpoint.h5 (periodic ones, the
  // final one when --checkpoint is given, and the one written on SIGINT/SIGTERM).
  const std::string ckpath = vm.count("checkpoint") ? vm["checkpoint"].as<std::string>()
                             : restarting           ? vm["restart"].as<std::string>()
                                                    : io::default_checkpoint_path(out);
  mpi::agreed([&] { io::check_output_file(ckpath, "checkpoint"); });
  if (ckpath == out) throw InputError("checkpoint", "--checkpoint: the checkpoint and --out must be different files");
  // The defining options, resolved (auto times as the times they gave), for the checkpoint.
  OptionRecord record;
  record_options(record, vm, {"dim", "eta", "noise", "sign-groups", "convention", "init", "hist-axes", "bins",
                              "density-avg", "moments-every", "step-stats", "out", "checkpoint-every"});
  record.add("walkers", std::to_string(opt.walkers));
  record.add("steps", std::to_string(opt.steps));
  record.add("seed", std::to_string(opt.seed));
  record.add("density-at", dens);
  record.add("flux-windows", fw);
  for (const auto& g : m.g) record.add("g", g);
  if (vm.count("drift"))
    for (const auto& d : m.drift) record.add("drift", d);
  for (const auto& d : per_axis(vm.count("domain") ? vm["domain"].as<std::vector<std::string>>() : std::vector<std::string>{"0:1"}, m.dim, "domain"))
    record.add("domain", d);
  for (const auto& b : per_axis(vm.count("boundary") ? vm["boundary"].as<std::vector<std::string>>() : std::vector<std::string>{"periodic"}, m.dim, "boundary"))
    record.add("boundary", b);
  const std::string ini = record.ini(), context = "continuation = " + continuation;
  if (restarting) opt.resume = &rstate;
  double checkpoint_seconds = 0;
  std::uint64_t checkpoints = 0;
  opt.on_checkpoint = [&](const WalkState& st) {
    const auto c0 = std::chrono::steady_clock::now();
    io::write_walk_state(ckpath, st, ini, context);
    checkpoint_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - c0).count();
    ++checkpoints;
  };
  opt.checkpoint_at_end = vm.count("checkpoint") > 0 || opt.checkpoint_every > 0;
  opt.stop_on_interrupt = true;
  if (stop_at > 0) {
    if (stop_at >= opt.steps) throw InputError("stop-at", "--stop-at must be below --steps (the run's end)");
    opt.stop_at = opt.t_begin + stop_at;
    if (restarting && opt.stop_at <= rstate.t)
      throw InputError("stop-at", "--stop-at: the checkpoint is at step " + std::to_string(rstate.t - opt.t_begin) + " already");
  }

  {  // Memory estimated before anything large is allocated; an oversize run is refused now.
    ObserverPlan p = plan;
    p.finalize(m, opt.steps, opt.t_begin);
    const int threads = opt.threads > 0 ? opt.threads : omp_get_max_threads();
    const double budget = parse_memory_size(vm["max-memory"].as<std::string>(), "max-memory");
    mpi::agreed([&] {  // (each rank's node and threads: agreed, so that no rank waits for one that refused)
      enforce_memory_budget(estimate_walk_memory(m, p, opt, init.kind == InitSpec::Kind::file, threads), budget);
    }, true);
  }

  using Clock = std::chrono::steady_clock;
  const auto t_start = Clock::now();
  // MPI ranks: each steps a contiguous range of global walker ids (whole groups of kMomentGroup),
  // rank 0 receives the reduced results and writes the files.
  RunOptions eopt = opt;
  if (mpi::distributed() && double(opt.walkers) * m.dim > 2147483647.0)
    throw InputError("walkers", "--walkers: on MPI ranks the final positions are gathered on rank 0, at most 2^31 values "
                                "(walkers x dim); this run has " + std::to_string(opt.walkers * std::uint64_t(m.dim)));
  if (mpi::distributed()) {
    const auto r = mpi::split(opt.walkers, kMomentGroup, mpi::rank(), mpi::size());
    eopt.first_walker = r.first;
    eopt.walkers = r.count;
    eopt.total_walkers = opt.walkers;
    eopt.split_over_ranks = true;
  }
  WalkEngine engine(m, plan, init, eopt, init.kind == InitSpec::Kind::file && !restarting ? &stored : nullptr);
  WalkResults res;
  {
    InterruptScope interrupt;  // SIGINT/SIGTERM: finish the block, checkpoint, partial output
    res = engine.run();
  }
  const auto t_run = Clock::now();
  if (!root) return res.complete ? 0 : kExitInterrupted;
  // A stopped run writes its partial output under another name: a file under --out is complete.
  const std::string written = res.complete ? out : io::partial_output_path(out);
  h5::AtomicFile file(written);

  std::vector<Parameter> params{
      {"dim", std::int64_t(m.dim)}, {"walkers", std::int64_t(opt.walkers)}, {"steps", std::int64_t(opt.steps)},
      {"eta", m.eta}, {"g", join(m.g, "; ")}, {"noise", to_string(m.noise)},
      {"sign_groups", format_sign_groups(m.groups)}, {"convention", m.alpha},
      {"drift", join(m.drift, "; ")}, {"init", init.text},
      {"hist_axes", vm["hist-axes"].as<std::string>()}, {"bins", vm["bins"].as<std::string>()},
      {"density_at", dens}, {"density_avg", davg}, {"flux_windows", fw},
      {"moments_every", std::int64_t(plan.moments_every)}, {"step_stats", std::int64_t(plan.step_stats)},
      {"seed", std::int64_t(opt.seed)}, {"threads", std::int64_t(opt.threads)}, {"out", out},
      {"t_begin", std::int64_t(opt.t_begin)}, {"continuation", continuation},
      {"block", std::int64_t(opt.block)}, {"chunk", std::int64_t(opt.chunk)}};
  std::vector<std::string> dom, bnd;
  std::vector<double> lo, hi;
  for (const auto& a : m.axes) { lo.push_back(a.lo); hi.push_back(a.hi); bnd.push_back(to_string(a.boundary)); }
  for (int a = 0; a < m.dim; ++a) dom.push_back(domains[a]);
  params.push_back({"domain", join(dom, "; ")});
  params.push_back({"boundary", join(bnd, "; ")});
  write_walk_output(file.id(), engine, res, params);
  {
    auto g = h5::open_group(file.id(), "parameters");
    h5::attr(g, "domain_lo", lo);
    h5::attr(g, "domain_hi", hi);
  }
  {
    auto g = h5::open_group(file.id(), "run");
    h5::attr(g, "complete", std::int64_t(res.complete));
    h5::attr(g, "ranks", std::int64_t(mpi::size()));
    h5::attr(g, "reduce_seconds", res.reduce_seconds);
    h5::attr(g, "t_reached", std::int64_t(res.t_begin + res.steps));
    h5::attr(g, "restarted_from", restarting ? vm["restart"].as<std::string>() : std::string());
    h5::attr(g, "restarted_at", std::int64_t(restarting ? rstate.t : 0));
    h5::attr(g, "seconds_before_restart", restarting ? rstate.seconds : 0.0);
    h5::attr(g, "checkpoints_written", std::int64_t(checkpoints));
    h5::attr(g, "checkpoint_seconds", checkpoint_seconds);
  }
  file.commit();
  // A restarted run that completed supersedes the partial output its stop left (removed only if
  // it is one: an HDF5 file marked /run@complete = 0).
  std::string superseded;
  if (res.complete && restarting) {
    const std::string partial = io::partial_output_path(out);
    try {
      if (std::filesystem::is_regular_file(partial) && H5Fis_hdf5(partial.c_str()) > 0) {
        bool incomplete = false;
        {
          auto f = h5::open_file_read(partial);
          if (h5::exists(f, "run")) {
            auto g = h5::open_group(f, "run");
            incomplete = h5::attr_exists(g, "complete") && h5::read_attr_int64(g, "complete") == 0;
          }
        }
        if (incomplete && std::filesystem::remove(partial)) superseded = partial;
      }
    } catch (const std::exception&) {  // (left in place)
    }
  }
  if (!res.complete) {
    const int sig = interrupt_signal();
    std::fprintf(stderr,
                 "soret walk: stopped (%s) at step %llu of %llu; checkpoint '%s', partial output '%s' (marked incomplete); "
                 "continue with: soret walk --restart %s\n",
                 sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "--stop-at", (unsigned long long)(res.t_begin + res.steps),
                 (unsigned long long)(opt.t_begin + opt.steps), ckpath.c_str(), written.c_str(), ckpath.c_str());
    return kExitInterrupted;
  }
  const double t_total = std::chrono::duration<double>(Clock::now() - t_start).count();
  const double t_output = std::chrono::duration<double>(Clock::now() - t_run).count();

  if (!quiet) {
    const double work = double(opt.walkers) * double(res.steps_here);  // walker-steps made by this process
    const double rate = res.seconds > 0 ? work / res.seconds : 0.0;
    std::printf("soret walk %s: %llu walkers x %llu steps, %d-D, %s noise, alpha=%g, eta=%g\n", soret::version,
                (unsigned long long)opt.walkers, (unsigned long long)opt.steps, m.dim, to_string(m.noise).c_str(),
                m.alpha, m.eta);
    std::printf("  stepping %.2f s, %.1f M walker-steps/s (%s integrator%s); whole run %.2f s, %.1f M walker-steps/s\n",
                res.seconds, rate / 1e6, res.kernel.c_str(), res.kernel == "fused" ? (std::string(", ") + fused_isa()).c_str() : "",
                t_total, t_total > 0 ? work / t_total / 1e6 : 0.0);
    if (mpi::distributed())
      std::printf("  %d MPI ranks x %d threads; final reduction and gathers on rank 0: %.3f s\n", mpi::size(),
                  opt.threads > 0 ? opt.threads : omp_get_max_threads(), res.reduce_seconds);
    if (restarting)
      std::printf("  restarted from step %llu of %s (its stepping took %.2f s before)\n", (unsigned long long)rstate.t,
                  vm["restart"].as<std::string>().c_str(), rstate.seconds);
    std::printf("  set-up and initial condition %.2f s, output file %.2f s\n", t_total - res.seconds - t_output, t_output);
    // What was recorded, and its share of the stepping time (time-stamp counter around each observer).
    for (const auto& c : res.costs)
      std::printf("  recorded: %s (%.0f%% of the stepping time)\n", c.what.c_str(), 100.0 * c.fraction);
    std::printf("  recorded: mean and variance at %zu time%s%s\n", res.moments_t.size(), res.moments_t.size() == 1 ? "" : "s",
                plan.moments_every ? "" : " (start and end; --moments-every K for more)");
    const auto ge = engine.g_evaluation();
    for (int a = 0; a < m.dim; ++a) std::printf("  g_%d = %s  [%s]\n", a, m.g[a].c_str(), ge[a].c_str());
    std::uint64_t absorbed = 0;
    for (int a = 0; a < m.dim; ++a) absorbed += res.absorbed_lo[a] + res.absorbed_hi[a];
    if (m.any_boundary(Boundary::absorbing))
      std::printf("  absorbed: %llu walkers during the run, %llu outside the domain at t=0\n",
                  (unsigned long long)absorbed, (unsigned long long)res.absorbed_initial);
    const size_t nt = res.moments_t.size();
    for (int a = 0; a < m.dim && nt; ++a)
      std::printf("  axis %d at t=%llu: mean %.6g, variance %.6g\n", a, (unsigned long long)res.moments_t[nt - 1],
                  res.mean[(nt - 1) * m.dim + a], res.var[(nt - 1) * m.dim + a]);
    // One-dimensional comparison with the stationary law rho ~ g^(2 alpha - 2) (zero-flux, O(eta^2)).
    const int fa = plan.hist_axes[0];
    const auto& ax = m.axes[fa];
    Expression gexp(m.g[fa], m.dim, m.eta, "g");
    const bool law_applies = plan.hist_axes.size() == 1 && !m.has_drift() && gexp.used_axes().size() <= 1 &&
                             (gexp.used_axes().empty() || gexp.used_axes()[0] == fa) &&
                             (ax.boundary == Boundary::periodic || ax.boundary == Boundary::reflecting) &&
                             !res.density_t.empty() && m.dim == 1;
    if (law_applies) {
      const size_t last = res.density_t.size() - 1;
      const int B = plan.lattice[0].bins;
      // Rademacher noise: the exact stationary law of the discrete walk (transfer operator, walls
      // included), where it is cheap to compute accurately: its grid must resolve a step by ~16
      // cells (linear interpolation adds a numerical diffusion ~ h^2 that competes with eta^2),
      // and the power iteration needs ~1/eta^2 sweeps. Otherwise, and for other noises, the
      // continuum law rho ~ g^(2 alpha - 2), which differs from the exact one at O(eta^2).
      double gmin = INFINITY;
      for (int k = 0; k <= 1000; ++k) gmin = std::min(gmin, gexp.at(ax.lo + (ax.hi - ax.lo) * k / 1000.0));
      const double L = ax.hi - ax.lo, step_frac = m.eta * gmin / L;
      const bool exact = m.noise == Noise::rademacher && step_frac >= 0.008;
      const int grid = exact ? int(std::ceil(16.0 / step_frac)) : 0;
      const auto p = exact ? theory::stationary_rademacher_exact(gexp, ax.lo, ax.hi, ax.boundary, m.eta, B, m.alpha, grid, 1e-10)
                           : theory::stationary_bin_probabilities(gexp, ax.lo, ax.hi, B, m.alpha);
      double chi2 = 0;
      for (int b = 0; b < B; ++b) {
        const double e = p[b] * double(opt.walkers), o = double(res.density_counts[last * B + b]);
        chi2 += (o - e) * (o - e) / (e * (1 - p[b]));
      }
      std::printf("  density at t=%llu vs the stationary law (%s): chi2/bins = %.3f over %d bins "
                  "(about 1 when the ensemble has relaxed)\n",
                  (unsigned long long)res.density_t[last],
                  exact ? "exact discrete law"
                        : (m.noise == Noise::rademacher ? "continuum, rho ~ g^(2 alpha-2); eta g too small for the exact law here"
                                                        : "continuum, rho ~ g^(2 alpha-2)"),
                  chi2 / B, B);
    }
    if (!res.windows.empty()) {
      const auto J = res.J(res.windows.size() - 1);
      double mx = 0;
      for (double v : J) mx = std::max(mx, std::abs(v));
      std::printf("  flux, window %llu:%llu: max |J| = %.3g per walker per step over %zu faces\n",
                  (unsigned long long)res.windows.back().first, (unsigned long long)res.windows.back().second, mx,
                  J.size());
    }
    if (checkpoints)
      std::printf("  checkpoints: %llu written to %s (%.2f s)\n", (unsigned long long)checkpoints, ckpath.c_str(), checkpoint_seconds);
    if (!superseded.empty()) std::printf("  removed the partial output %s (superseded by this complete run)\n", superseded.c_str());
    std::printf("  wrote %s\n", out.c_str());
  }
  return 0;
}

}  // namespace soret::cli
