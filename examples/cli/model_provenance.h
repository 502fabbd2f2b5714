/* model_provenance.h - a model's licence and source, as the manifest.json
 * next to it records them. */
#ifndef CUTOUT_CLI_MODEL_PROVENANCE_H
#define CUTOUT_CLI_MODEL_PROVENANCE_H

#include <stdbool.h>
#include <stddef.h>

/* Reads models.<name>.meta.license and .source from the manifest.json in
 * the folder of model_path (tools/fetch-model and tools/import-model write
 * them) into license and source, truncated to their capacities. Returns
 * false, both buffers empty, when that folder has no readable manifest,
 * the manifest no entry for the model, or the entry neither string. */
bool model_provenance(const char *model_path, const char *name, char *license, size_t license_cap,
                      char *source, size_t source_cap);

#endif
