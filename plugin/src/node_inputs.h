/*
 * node_inputs.h - the one preparation path every node's tensors take:
 * layout, batch, device, output size and NaN/Inf, in that order, with one
 * set of messages.
 */
#ifndef CUTOUT_NODE_INPUTS_H
#define CUTOUT_NODE_INPUTS_H

#include "context.h"
#include "inputs.h"
#include "tensor_check.h"

/* A node's checked tensor inputs. Borrowed from the host; NULL when not
 * given. A mask or background batch of 1 applies to every image. */
typedef struct node_tensors {
    const DLTensor *image;
    image_shape image_shape;
    const DLTensor *mask;
    mask_shape mask_shape;
    const DLTensor *background;
    image_shape background_shape;
} node_tensors;

/* Takes the IMAGE input "image", the optional MASK "mask" and, when
 * `background_name` is not NULL, the IMAGE input of that name (required
 * then), and checks, before any work:
 *  - each layout (tensor_check.h) and the pixel limit;
 *  - a mask and background batch of 1 or the image's;
 *  - the image on the context's device, the others beside it;
 *  - outputs of `output_bytes_per_pixel` per image pixel: their size fits
 *    int64 and, on the CPU, the memory available;
 *  - finite values in every tensor.
 * Thread-safe; reads the tensors' data only for the NaN/Inf check.
 * Errors: INVALID_INPUT, LIMIT, DEVICE, OUT_OF_MEMORY, each naming the
 * input. */
cutout_status node_prepare_tensors(const cutout_context *ctx, const bound_inputs *in,
                                   const char *background_name, int64_t output_bytes_per_pixel,
                                   node_tensors *out);

#endif /* CUTOUT_NODE_INPUTS_H */
