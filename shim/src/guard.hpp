// guard.hpp - the one place where C++ exceptions become cutout_shim_status.
//
// Every exported function of the shim runs its body through guarded(). Code
// inside throws shim_error (a status plus a message) for the errors it
// recognises; anything else is mapped here:
//   shim_error                 -> its own status and message
//   std::bad_alloc,
//   c10::OutOfMemoryError,
//   a c10::Error whose message
//   says an allocation failed  -> CUTOUT_SHIM_ERR_OUT_OF_MEMORY
//   c10::Error, std::exception -> CUTOUT_SHIM_ERR_INTERNAL (first line of the
//                                 message, libtorch's backtrace dropped)
//   anything else              -> CUTOUT_SHIM_ERR_INTERNAL
// Places where a libtorch failure has a known meaning (a load that fails means
// the file is not a model, a forward that fails is an inference error) wrap
// that step in translate_errors(), which rethrows as shim_error with the
// status the site chose. No exception leaves guarded().
#pragma once

#include <c10/util/Exception.h>

#include <cstddef>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>

#include "cutout_shim.h"

namespace cutout_shim {

// An error whose status the throwing site chose. The message follows the
// header's form "<input>: <what went wrong> (expected X, got Y)".
class shim_error : public std::runtime_error {
public:
    shim_error(cutout_shim_status status, const std::string &message)
        : std::runtime_error(message), status_(status) {}
    cutout_shim_status status() const noexcept { return status_; }

private:
    cutout_shim_status status_;
};

[[noreturn]] inline void fail(cutout_shim_status status, const std::string &message) {
    throw shim_error(status, message);
}

// Copies `message` into err (capacity err_cap): truncated to fit, always
// NUL-terminated when err_cap > 0; nothing happens when err is NULL or
// err_cap is 0.
void write_message(char *err, size_t err_cap, const std::string &message) noexcept;

// The line of an exception text that says what failed: the first line,
// or for a TorchScript interpreter error (script traceback first) the last
// line. Trimmed of surrounding blanks; never empty ("unknown error").
std::string first_line(const char *text);

// True when a libtorch message says an allocation failed.
bool looks_like_out_of_memory(const std::string &message);

// Maps the exception being handled (call only inside a catch block) to a
// status and writes its message into err. `context` prefixes messages of
// exceptions the shim did not raise itself, e.g. "predict_alpha".
cutout_shim_status status_from_current_exception(const char *context, char *err,
                                                 size_t err_cap) noexcept;

// Runs body(), which returns a status, and returns that status; on
// CUTOUT_SHIM_OK the message buffer is set to "". Any exception becomes a
// status (see the table above).
template <class Body>
cutout_shim_status guarded(const char *context, char *err, size_t err_cap,
                           Body &&body) noexcept {
    try {
        cutout_shim_status status = std::forward<Body>(body)();
        if (status == CUTOUT_SHIM_OK) write_message(err, err_cap, "");
        return status;
    } catch (...) {
        return status_from_current_exception(context, err, err_cap);
    }
}

// For the exported functions that return no status (free, device): runs
// body() and returns its value, or `fallback` if it throws.
template <class T, class Body>
T guarded_value(T fallback, Body &&body) noexcept {
    try {
        return std::forward<Body>(body)();
    } catch (...) {
        return fallback;
    }
}

// Runs step() and returns its result. A c10::Error or std::exception it
// throws (other than shim_error and out-of-memory, which pass through
// unchanged) is rethrown as shim_error(status, prefix + first line of the
// message).
template <class Step>
auto translate_errors(cutout_shim_status status, const std::string &prefix, Step &&step)
    -> decltype(step()) {
    try {
        return std::forward<Step>(step)();
    } catch (const shim_error &) {
        throw;
    } catch (const std::bad_alloc &) {
        throw;
    } catch (const c10::OutOfMemoryError &) {
        throw;
    } catch (const c10::Error &e) {
        std::string line = first_line(e.what_without_backtrace());
        if (looks_like_out_of_memory(line)) throw;
        throw shim_error(status, prefix + line);
    } catch (const std::exception &e) {
        throw shim_error(status, prefix + first_line(e.what()));
    }
}

}  // namespace cutout_shim
