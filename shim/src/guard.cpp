// guard.cpp - exception-to-status mapping and safe message copying.
#include "guard.hpp"

#include <cstring>

namespace cutout_shim {

void write_message(char *err, size_t err_cap, const std::string &message) noexcept {
    if (err == nullptr || err_cap == 0) return;
    size_t n = message.size();
    if (n > err_cap - 1) n = err_cap - 1;
    std::memcpy(err, message.data(), n);
    err[n] = '\0';
}

static std::string trimmed(const std::string &s) {
    const char *blanks = " \t\r\n";
    size_t b = s.find_first_not_of(blanks);
    if (b == std::string::npos) return "";
    size_t e = s.find_last_not_of(blanks);
    return s.substr(b, e - b + 1);
}

std::string first_line(const char *text) {
    std::string s = text != nullptr ? text : "";
    // Some messages start with a newline (TorchScript's "Unknown builtin
    // op"): the first line that says something is the one.
    size_t start = s.find_first_not_of(" \t\r\n");
    s = start == std::string::npos ? std::string() : s.substr(start);
    // The TorchScript interpreter puts a script traceback first and the
    // actual error ("RuntimeError: ...") on the last line.
    if (s.rfind("The following operation failed in the TorchScript interpreter", 0) == 0) {
        std::string t = trimmed(s);
        size_t nl = t.find_last_of('\n');
        std::string last = trimmed(nl == std::string::npos ? t : t.substr(nl + 1));
        if (!last.empty()) return last;
    }
    std::string line = trimmed(s.substr(0, s.find('\n')));
    // Caffe2-style checks start with "[enforce fail at file:line] cond. ".
    if (line.rfind("[enforce fail at ", 0) == 0) {
        size_t close = line.find("] ");
        size_t cond_end = close == std::string::npos ? close : line.find(". ", close);
        if (cond_end != std::string::npos) line = trimmed(line.substr(cond_end + 2));
    }
    // TORCH_CHECK without a message appends an appeal to report it upstream.
    size_t appeal = line.find("(Could this error message be improved?");
    if (appeal != std::string::npos) line = trimmed(line.substr(0, appeal));
    return line.empty() ? "unknown error" : line;
}

bool looks_like_out_of_memory(const std::string &message) {
    return message.find("not enough memory") != std::string::npos ||
           message.find("out of memory") != std::string::npos ||
           message.find("can't allocate memory") != std::string::npos;
}

static std::string with_context(const char *context, const std::string &message) {
    if (context == nullptr || *context == '\0') return message;
    return std::string(context) + ": " + message;
}

cutout_shim_status status_from_current_exception(const char *context, char *err,
                                                 size_t err_cap) noexcept {
    // Building a message can itself fail on allocation; fall back to fixed
    // text then.
    try {
        try {
            throw;
        } catch (const shim_error &e) {
            write_message(err, err_cap, e.what());
            return e.status();
        } catch (const std::bad_alloc &) {
            write_message(err, err_cap, with_context(context, "out of memory"));
            return CUTOUT_SHIM_ERR_OUT_OF_MEMORY;
        } catch (const c10::Error &e) {
            // c10::OutOfMemoryError (CUDA) is a c10::Error; the CPU allocator
            // only says so in its message.
            std::string line = first_line(e.what_without_backtrace());
            bool oom = dynamic_cast<const c10::OutOfMemoryError *>(&e) != nullptr ||
                       looks_like_out_of_memory(line);
            if (oom) {
                write_message(err, err_cap, with_context(context, "out of memory (" + line + ")"));
                return CUTOUT_SHIM_ERR_OUT_OF_MEMORY;
            }
            write_message(err, err_cap, with_context(context, line));
            return CUTOUT_SHIM_ERR_INTERNAL;
        } catch (const std::exception &e) {
            write_message(err, err_cap, with_context(context, first_line(e.what())));
            return CUTOUT_SHIM_ERR_INTERNAL;
        } catch (...) {
            write_message(err, err_cap, with_context(context, "unknown C++ exception"));
            return CUTOUT_SHIM_ERR_INTERNAL;
        }
    } catch (...) {
        write_message(err, err_cap, "out of memory while reporting an error");
        return CUTOUT_SHIM_ERR_OUT_OF_MEMORY;
    }
}

}  // namespace cutout_shim
