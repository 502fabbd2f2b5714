/* fixture.c - helpers shared by the unit tests. */
#define _GNU_SOURCE
#include "fixture.h"

#include <stdlib.h>
#include <unistd.h>

int fixture_failures;
int fixture_checks;

int fixture_finish(const char *suite)
{
    fixture_cleanup();
    printf("%s: %d checks, %d failed\n", suite, fixture_checks, fixture_failures);
    return fixture_failures == 0 ? 0 : 1;
}

static char model_dir[256];

const char *fixture_model_dir(void) { return model_dir; }

static void write_file(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", model_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "fixture: cannot write %s\n", path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
}

cutout_status fixture_context(const char *nodes_json, cutout_context **ctx)
{
    if (model_dir[0] == '\0') {
        snprintf(model_dir, sizeof model_dir, "/tmp/cutout-unit-XXXXXX");
        if (!mkdtemp(model_dir)) {
            fprintf(stderr, "fixture: mkdtemp failed\n");
            exit(2);
        }
        write_file("stub.pt", "cutout-stub-model\n");
        write_file("broken.pt", "PK\x03\x04 this is not a model");
        write_file("notes.txt", "not a model either");
    }
    const char *dirs[] = {model_dir};
    cutout_context_params p = cutout_context_default_params();
    p.model_dirs = dirs;
    p.num_model_dirs = 1;
    p.nodes_json = nodes_json;
    return cutout_context_create(&p, ctx);
}

void fixture_cleanup(void)
{
    if (model_dir[0] == '\0') return;
    const char *names[] = {"stub.pt", "broken.pt", "notes.txt"};
    char path[512];
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", model_dir, names[i]);
        unlink(path);
    }
    rmdir(model_dir);
    model_dir[0] = '\0';
}

void fixture_progress(int64_t done, int64_t total, void *user)
{
    progress_log *log = user;
    if (log->calls < 512) {
        log->done[log->calls] = done;
        log->total[log->calls] = total;
    }
    log->calls++;
}

bool fixture_should_abort(void *user)
{
    progress_log *log = user;
    log->abort_polls++;
    return log->abort_after >= 0 && log->calls >= log->abort_after;
}

cutout_status fixture_run(cutout_context *ctx, const DLTensor *image, const DLTensor *mask,
                          int64_t batch_size, progress_log *log, DLManagedTensor *out[2])
{
    cutout_input inputs[4] = {
        {.name = "image", .kind = CUTOUT_VALUE_TENSOR, .tensor = image},
        {.name = "model", .kind = CUTOUT_VALUE_STRING, .s = "stub"},
        {.name = "batch_size", .kind = CUTOUT_VALUE_INT, .i = batch_size},
        {.name = "mask", .kind = CUTOUT_VALUE_TENSOR, .tensor = mask},
    };
    cutout_run_params run = cutout_run_default_params();
    if (log) {
        run.progress = fixture_progress;
        run.progress_user = log;
        run.should_abort = fixture_should_abort;
        run.abort_user = log;
    }
    out[0] = out[1] = (DLManagedTensor *)(uintptr_t)1; /* must be overwritten */
    return cutout_node_run(ctx, "CutoutRemoveBackground", inputs, mask ? 4 : 3, &run, out, 2);
}

void fixture_release(DLManagedTensor *out[2])
{
    for (int i = 0; i < 2; i++)
        if (out[i]) {
            out[i]->deleter(out[i]);
            out[i] = NULL;
        }
}
