// model_metadata.hpp - a model file's checks before torch reads it, and its
// cutout_meta.json metadata (shim-internal).
#pragma once

#include <string>

#include "cutout_shim.h"

namespace cutout_shim {

// The extra file in the TorchScript archive that holds the metadata.
extern const char *const kMetaFile;

// 'text' in single quotes, as the shim's messages name files.
std::string in_quotes(const std::string &text);

// Throws MODEL_NOT_FOUND / MODEL_INVALID unless `path` is a readable,
// non-empty regular file.
void require_readable_file(const std::string &path);

// The model info that `json` (the text of kMetaFile, "" when the archive has
// none) describes; throws MODEL_INVALID naming `path` and the first bad key.
// The precision fields are left empty: the loader fills them.
cutout_shim_model_info parse_metadata(const std::string &path, const std::string &json);

}  // namespace cutout_shim
