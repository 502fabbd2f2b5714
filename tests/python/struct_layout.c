/* Prints the size and every field offset of each C struct that the Python
 * binding declares with ctypes, one "struct field offset" line per field
 * (in declaration order) and one "struct sizeof N" line per struct, for
 * test_struct_layout.py to compare with the ctypes declarations. */
#include <stddef.h>
#include <stdio.h>

#include <cutout.h>

#define SIZE(type) printf("%s sizeof %zu\n", #type, sizeof(type))
#define FIELD(type, field) printf("%s %s %zu\n", #type, #field, offsetof(type, field))

int main(void) {
    SIZE(cutout_context_params);
    FIELD(cutout_context_params, struct_size);
    FIELD(cutout_context_params, model_dirs);
    FIELD(cutout_context_params, num_model_dirs);
    FIELD(cutout_context_params, device);
    FIELD(cutout_context_params, num_threads);
    FIELD(cutout_context_params, nodes_json);
    FIELD(cutout_context_params, cpu_shared_passes);
    FIELD(cutout_context_params, no_direct_convolutions);

    SIZE(cutout_input);
    FIELD(cutout_input, name);
    FIELD(cutout_input, kind);
    FIELD(cutout_input, tensor);
    FIELD(cutout_input, i);
    FIELD(cutout_input, f);
    FIELD(cutout_input, b);
    FIELD(cutout_input, s);

    SIZE(cutout_run_params);
    FIELD(cutout_run_params, struct_size);
    FIELD(cutout_run_params, progress);
    FIELD(cutout_run_params, progress_user);
    FIELD(cutout_run_params, should_abort);
    FIELD(cutout_run_params, abort_user);
    FIELD(cutout_run_params, temporal);

    SIZE(DLDevice);
    FIELD(DLDevice, device_type);
    FIELD(DLDevice, device_id);

    SIZE(DLDataType);
    FIELD(DLDataType, code);
    FIELD(DLDataType, bits);
    FIELD(DLDataType, lanes);

    SIZE(DLTensor);
    FIELD(DLTensor, data);
    FIELD(DLTensor, device);
    FIELD(DLTensor, ndim);
    FIELD(DLTensor, dtype);
    FIELD(DLTensor, shape);
    FIELD(DLTensor, strides);
    FIELD(DLTensor, byte_offset);

    SIZE(DLManagedTensor);
    FIELD(DLManagedTensor, dl_tensor);
    FIELD(DLManagedTensor, manager_ctx);
    FIELD(DLManagedTensor, deleter);
    return 0;
}
