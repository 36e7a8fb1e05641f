// options.hpp - the contract's command line: --help, --name, --timeout and
// whatever a chapter adds, in GNU style (`--opt VALUE` or `--opt=VALUE`,
// options anywhere, `--` ends them so a message may start with '-').
//
//     lab::Options opts("[--name NAME] [--timeout SECONDS] [MESSAGE...]",
//                       "Sends each MESSAGE to the server and prints the reply.");
//     opts.add_name(name);
//     opts.add_timeout(timeout_seconds);
//     opts.flag("--try", "fail at once (exit 3) when the file is locked", try_only);
//     std::vector<std::string> messages = opts.parse(argc, argv);
//
// Errors are lab::UsageError (exit 2); --help prints usage on stdout and
// throws lab::HelpShown (exit 0).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace lab {

inline constexpr double default_timeout_seconds = 5.0;
inline constexpr const char* default_name = "demo";

class Options {
  public:
    Options(std::string synopsis, std::string description);

    // A switch with no value.
    void flag(const std::string& option, const std::string& help, bool& target);
    // An option with a value, handed to `parse` (which throws UsageError on bad input).
    void value(const std::string& option, const std::string& value_name, const std::string& help,
               std::function<void(const std::string&)> parse);

    void add_name(std::string& name);  // --name NAME (validated, default "demo")
    void add_timeout(double& seconds); // --timeout SECONDS (default 5, decimals allowed)

    // Returns the operands (non-option arguments) in order.
    std::vector<std::string> parse(int argc, char** argv) const;

    void print_usage() const;

  private:
    struct Spec {
        std::string option;
        std::string value_name; // empty for a flag
        std::string help;
        std::function<void(const std::string&)> apply;
    };
    const Spec* find(std::string_view option) const;

    std::string synopsis_;
    std::string description_;
    std::vector<Spec> specs_;
};

// The two command lines of the contract, so no chapter writes them again:
//
//   server [--name NAME]:
//     std::string name = lab::parse_server_options(argc, argv, "Serves ...");
//   client [--name NAME] [--timeout SECONDS] [MESSAGE...], nothing more:
//     lab::ClientCommand command = lab::parse_client_options(argc, argv, "Sends ...");
//     ... command.name, command.timeout_seconds, command.messages
//   a client with more options adds them before parse():
//     lab::Options options = lab::client_options("Sends ...", name, timeout_seconds);
//     options.flag(...);
//     std::vector<std::string> messages = options.parse(argc, argv);
//
// A server takes no operands: one is a UsageError ("unexpected argument").
std::string parse_server_options(int argc, char** argv, const std::string& description);
Options client_options(const std::string& description, std::string& name, double& timeout_seconds);

// What a client with no options of its own was asked to do. A named struct,
// not a structured binding: clang++ 14 cannot capture those in a lambda.
struct ClientCommand {
    std::string name;
    double timeout_seconds = default_timeout_seconds;
    std::vector<std::string> messages; // empty: read stdin's lines instead
};
ClientCommand parse_client_options(int argc, char** argv, const std::string& description);

// NAME is 1-40 of A-Z a-z 0-9 _ . -, not starting with '.'; else UsageError.
void validate_name(const std::string& name);

// A number of seconds >= 0, decimals allowed ("0.5"); else UsageError naming the option.
double parse_seconds(const std::string& option, const std::string& text);

// A whole number in [min, max]; else UsageError naming the option.
long parse_integer(const std::string& option, const std::string& text, long min, long max);

} // namespace lab
