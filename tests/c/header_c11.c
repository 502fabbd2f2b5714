/* Compiled with -std=c11 -pedantic -Werror: the public header is strict C11. */
#include "cutout.h"

int header_c11_uses_everything(void);
int header_c11_uses_everything(void)
{
    cutout_context_params cp = cutout_context_default_params();
    cutout_run_params rp = cutout_run_default_params();
    cutout_input in = {"image", CUTOUT_VALUE_TENSOR, NULL, 0, 0.0, false, NULL};
    return (int)cp.struct_size + (int)rp.struct_size + (int)in.kind + CUTOUT_ABI_VERSION;
}
