// procfs.cpp - see procfs.hpp.
#include "procfs.hpp"

#include <fstream>
#include <sstream>
#include <string>

namespace signal_lab {

std::optional<unsigned long long> process_start_time(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) {
        return std::nullopt; // no such process (any more)
    }
    // "PID (COMM) STATE PPID ...": COMM may hold spaces and ')', so the
    // fields are counted from the last ')'.
    auto comm_end = line.rfind(')');
    if (comm_end == std::string::npos) {
        return std::nullopt;
    }
    std::istringstream fields(line.substr(comm_end + 1));
    std::string state;
    fields >> state;
    if (state == "Z" || state == "X") {
        return std::nullopt;
    }
    std::string skipped;
    for (int field = 4; field < 22; ++field) { // STATE was field 3; starttime is 22
        fields >> skipped;
    }
    unsigned long long start_time = 0;
    if (!(fields >> start_time)) {
        return std::nullopt;
    }
    return start_time;
}

} // namespace signal_lab
