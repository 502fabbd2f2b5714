/* temporal.h - the struct behind cutout_temporal (see cutout.h). */
#ifndef CUTOUT_TEMPORAL_H
#define CUTOUT_TEMPORAL_H

#include "cutout.h"
#include "cutout_shim.h"

struct cutout_temporal {
    cutout_shim_temporal *state; /* owned */
};

#endif /* CUTOUT_TEMPORAL_H */
