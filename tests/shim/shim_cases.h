/*
 * shim_cases.h - the shim test cases, one ctest test each (see
 * test_shim_main.c). Each returns 0, or 77 to skip; failures are counted
 * in g_failures.
 */
#ifndef CUTOUT_SHIM_CASES_H
#define CUTOUT_SHIM_CASES_H

int case_version(void);
int case_load(void);
int case_bad_files(void);
int case_device(void);
int case_precision(void);
int case_precision_rule(void);
int case_bf16_close(void);
int case_predict_photo(void);
int case_predict_strided(void);
int case_model_outputs(void);
int case_abort(void);
int case_compose_rgb(void);
int case_compose_uint8_exact(void);
int case_compose_alpha(void);
int case_compose_guide_resize(void);
int case_compose_errors(void);
int case_alloc(void);
int case_count_nonfinite(void);
int case_messages(void);
int case_threads(void);
int case_frames(void);

#endif /* CUTOUT_SHIM_CASES_H */
