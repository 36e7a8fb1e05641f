#include "options.hpp"

#include "errors.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace lab {

namespace {
constexpr std::size_t max_name_bytes = 40;
constexpr double max_seconds = 24.0 * 3600.0; // a day: anything longer is a typo
} // namespace

Options::Options(std::string synopsis, std::string description)
    : synopsis_(std::move(synopsis)), description_(std::move(description)) {}

void Options::flag(const std::string& option, const std::string& help, bool& target) {
    specs_.push_back({option, "", help, [&target](const std::string&) { target = true; }});
}

void Options::value(const std::string& option, const std::string& value_name,
                    const std::string& help, std::function<void(const std::string&)> parse) {
    specs_.push_back({option, value_name, help, std::move(parse)});
}

void Options::add_name(std::string& name) {
    name = default_name;
    value("--name", "NAME", "instance name (default demo): 1-40 of A-Z a-z 0-9 _ . -",
          [&name](const std::string& text) {
              validate_name(text);
              name = text;
          });
}

void Options::add_timeout(double& seconds) {
    seconds = default_timeout_seconds;
    value("--timeout", "SECONDS", "bound on every wait for the other side (default 5)",
          [&seconds](const std::string& text) { seconds = parse_seconds("--timeout", text); });
}

const Options::Spec* Options::find(std::string_view option) const {
    for (const auto& spec : specs_) {
        if (spec.option == option) {
            return &spec;
        }
    }
    return nullptr;
}

std::vector<std::string> Options::parse(int argc, char** argv) const {
    std::vector<std::string> operands;
    bool options_ended = false;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (options_ended || arg.size() < 2 || arg[0] != '-') {
            operands.push_back(arg);
            continue;
        }
        if (arg == "--") {
            options_ended = true;
            continue;
        }
        if (arg == "--help" || arg == "-h") {
            print_usage();
            throw HelpShown{};
        }
        std::string option = arg;
        std::string inline_value;
        bool has_inline_value = false;
        if (auto equals = arg.find('='); equals != std::string::npos) {
            option = arg.substr(0, equals);
            inline_value = arg.substr(equals + 1);
            has_inline_value = true;
        }
        const Spec* spec = find(option);
        if (spec == nullptr) {
            throw UsageError("unknown option '" + option + "' (try --help)");
        }
        if (spec->value_name.empty()) {
            if (has_inline_value) {
                throw UsageError("option " + option + " takes no value");
            }
            spec->apply("");
        } else if (has_inline_value) {
            spec->apply(inline_value);
        } else if (i + 1 < argc) {
            spec->apply(argv[++i]);
        } else {
            throw UsageError("option " + option + " needs a value " + spec->value_name);
        }
    }
    return operands;
}

void Options::print_usage() const {
    std::printf("usage: %s %s\n\n%s\n\noptions:\n", program_name().c_str(), synopsis_.c_str(),
                description_.c_str());
    for (const auto& spec : specs_) {
        std::string left = spec.option;
        if (!spec.value_name.empty()) {
            left += " " + spec.value_name;
        }
        std::printf("  %-22s %s\n", left.c_str(), spec.help.c_str());
    }
    std::printf("  %-22s %s\n", "--help", "print this help and exit");
    std::fflush(stdout);
}

void validate_name(const std::string& name) {
    auto allowed = [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '.' || c == '-';
    };
    bool ok = !name.empty() && name.size() <= max_name_bytes && name[0] != '.';
    for (char c : name) {
        ok = ok && allowed(c);
    }
    if (!ok) {
        throw UsageError("bad name '" + name +
                         "': use 1-40 of A-Z a-z 0-9 _ . -, not starting with '.'");
    }
}

double parse_seconds(const std::string& option, const std::string& text) {
    char* end = nullptr;
    errno = 0;
    double seconds = std::strtod(text.c_str(), &end);
    // strtod also takes "inf", "nan" and hex floats: accept plain decimals only.
    bool plain = !text.empty() && text.find_first_not_of("0123456789.") == std::string::npos;
    if (!plain || end != text.c_str() + text.size() || errno != 0 || !std::isfinite(seconds) ||
        seconds < 0 || seconds > max_seconds) {
        throw UsageError("bad value '" + text + "' for " + option +
                         ": want seconds, like 5 or 0.5 (at most 86400)");
    }
    return seconds;
}

long parse_integer(const std::string& option, const std::string& text, long min, long max) {
    // Digits, with a '-' in front at most: strtol alone would also take
    // " 5", "+5" and other spellings nobody means.
    std::string_view digits(text);
    if (!digits.empty() && digits.front() == '-') {
        digits.remove_prefix(1);
    }
    bool plain = !digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos;
    char* end = nullptr;
    errno = 0;
    long value = std::strtol(text.c_str(), &end, 10);
    if (!plain || end != text.c_str() + text.size() || errno != 0 || value < min || value > max) {
        throw UsageError("bad value '" + text + "' for " + option + ": want a whole number from " +
                         std::to_string(min) + " to " + std::to_string(max));
    }
    return value;
}

std::string parse_server_options(int argc, char** argv, const std::string& description) {
    std::string name;
    Options options("[--name NAME]", description);
    options.add_name(name);
    if (auto operands = options.parse(argc, argv); !operands.empty()) {
        throw UsageError("unexpected argument '" + operands.front() + "'");
    }
    return name;
}

Options client_options(const std::string& description, std::string& name, double& timeout_seconds) {
    Options options("[--name NAME] [--timeout SECONDS] [MESSAGE...]", description);
    options.add_name(name);
    options.add_timeout(timeout_seconds);
    return options;
}

ClientCommand parse_client_options(int argc, char** argv, const std::string& description) {
    ClientCommand command;
    command.messages =
        client_options(description, command.name, command.timeout_seconds).parse(argc, argv);
    return command;
}

} // namespace lab
