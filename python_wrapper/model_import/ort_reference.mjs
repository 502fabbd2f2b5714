// ort_reference.mjs - runs an ONNX model with onnxruntime (CPU) on raw float32
// tensors and writes its FIRST output; the reference for the model tests.
//
// Usage:
//   node python_wrapper/model_import/ort_reference.mjs MODEL.onnx IN.f32 OUT.f32 [IN2.f32 OUT2.f32 ...]
//   node python_wrapper/model_import/ort_reference.mjs --check      (loads onnxruntime, prints its version)
//
// Each IN file holds one 1 x 3 x S x S float32 tensor (little endian, C
// order, S inferred from the file size); each OUT receives the first output,
// also raw float32. Prints one line per image: "<IN> size S: <ms> ms".
// Environment: CUTOUT_ORT_THREADS = intra-op threads (default 2).
// Exit status 1 with a message naming the bad argument or file on any error.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

function fail(message) {
  console.error(`ort_reference: error: ${message}`);
  process.exit(1);
}

async function loadOrt() {
  try {
    const mod = await import('onnxruntime-node');
    return mod.default ?? mod;
  } catch (e) {
    fail(`cannot load onnxruntime-node from ${path.join(here, 'node_modules')} (${e.message}); ` +
         'install it with: tools/fetch-model --with-reference');
  }
}

function readInput(file) {
  let bytes;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    fail(`${file}: cannot read (${e.message})`);
  }
  const count = bytes.byteLength / 4;
  const side = Math.round(Math.sqrt(count / 3));
  if (bytes.byteLength % 4 !== 0 || side < 1 || 3 * side * side !== count) {
    fail(`${file}: expected a 1 x 3 x S x S float32 tensor, got ${bytes.byteLength} bytes`);
  }
  const data = new Float32Array(count);
  new Uint8Array(data.buffer).set(bytes);
  return { data, side };
}

async function main() {
  const args = process.argv.slice(2);
  const ort = await loadOrt();
  if (args.length === 1 && args[0] === '--check') {
    const pkg = JSON.parse(fs.readFileSync(path.join(here, 'node_modules/onnxruntime-node/package.json')));
    console.log(`onnxruntime-node ${pkg.version} loaded (${process.platform}/${process.arch})`);
    return;
  }
  if (args.length < 3 || args.length % 2 !== 1) {
    fail('usage: ort_reference.mjs MODEL.onnx IN.f32 OUT.f32 [IN2.f32 OUT2.f32 ...]');
  }
  const threads = Number.parseInt(process.env.CUTOUT_ORT_THREADS ?? '2', 10);
  if (!(threads >= 1)) fail(`CUTOUT_ORT_THREADS: expected an integer >= 1, got ${process.env.CUTOUT_ORT_THREADS}`);
  let session;
  try {
    session = await ort.InferenceSession.create(args[0], {
      executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1 });
  } catch (e) {
    fail(`${args[0]}: cannot load the model (${e.message})`);
  }
  const inputName = session.inputNames[0];
  const outputName = session.outputNames[0];
  for (let i = 1; i < args.length; i += 2) {
    const { data, side } = readInput(args[i]);
    const start = process.hrtime.bigint();
    let result;
    try {
      result = await session.run({ [inputName]: new ort.Tensor('float32', data, [1, 3, side, side]) },
                                 [outputName]);
    } catch (e) {
      fail(`${args[i]}: inference failed at size ${side} (${e.message})`);
    }
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    const out = result[outputName];
    if (out.type !== 'float32') fail(`${args[0]}: first output is ${out.type}, expected float32`);
    fs.writeFileSync(args[i + 1], Buffer.from(out.data.buffer, out.data.byteOffset, out.data.byteLength));
    console.log(`${args[i]} size ${side}: ${ms.toFixed(0)} ms`);
  }
}

await main();
