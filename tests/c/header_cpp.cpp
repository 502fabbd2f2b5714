// Compiled as C++ with -pedantic -Werror: the public header works from C++.
#include "cutout.h"

int header_cpp_uses_everything();
int header_cpp_uses_everything()
{
    cutout_context_params cp = cutout_context_default_params();
    cutout_run_params rp = cutout_run_default_params();
    cutout_input in = {"image", CUTOUT_VALUE_TENSOR, nullptr, 0, 0.0, false, nullptr};
    cutout_status st = CUTOUT_ERR_LIMIT;
    return static_cast<int>(cp.struct_size + rp.struct_size) + in.kind + st;
}
