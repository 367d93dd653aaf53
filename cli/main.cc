// netadapt: the command line of the NetAdapt service (DESIGN.md section 1).
//   netadapt submit --model alexnet --dataset cifar10:/data/cifar-10-batches-bin --budget-ratio 0.5
//   netadapt watch jobs/7
// Talks to netadapt-master's JobService; `netadapt --help` lists commands and exit codes.
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "cli/app.h"

int main(int argc, char** argv) {
  const bool tty = isatty(STDOUT_FILENO) == 1;
  int width = 100;
  winsize size{};
  if (tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) {
    width = size.ws_col;
  }
  return netadapt::cli::RunApp(argc, argv, std::cout, std::cerr, std::getenv("NETADAPT_MASTER"),
                               tty, width, std::getenv("NETADAPT_TOKEN_FILE"),
                               std::getenv("NETADAPT_TOKEN"));
}
