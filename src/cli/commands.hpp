#pragma once
// Sub-commands of the `soret` program. Each returns the process exit status:
// 0 success, 2 bad input (one line naming the option), 3 numerical blow-up, 1 other failure.
namespace soret::cli {

int walk_main(int argc, char** argv);
int check_main(int argc, char** argv);
int net_main(int argc, char** argv);

}  // namespace soret::cli
