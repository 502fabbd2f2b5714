// ort_graphs.mjs - runs a list of ONNX graphs with onnxruntime (CPU) and
// writes every output: the reference of the converter's op tests.
//
// Usage: node python_wrapper/model_import/ort_graphs.mjs LIST.json
//
// LIST.json is an array of runs:
//   {"model": "a.onnx",
//    "inputs": [{"name": "x", "type": "float32", "dims": [1, 3], "file": "x.bin"}, ...],
//    "outputs": [{"name": "y", "file": "y.bin"}, ...],
//    "result": "run.json"}
// Input and output files hold raw little-endian data in C order (bool as one
// byte per value). Each run's "result" file receives {"outputs": [{"name",
// "type", "dims"}]} or {"error": message}: a graph onnxruntime rejects does
// not stop the others. Types: float32, int64, int32, bool, uint8, int8.
// Exit status 1 with a message when the list or onnxruntime cannot be read.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const ARRAYS = {
  float32: Float32Array, int64: BigInt64Array, int32: Int32Array,
  bool: Uint8Array, uint8: Uint8Array, int8: Int8Array,
};

function fail(message) {
  console.error(`ort_graphs: error: ${message}`);
  process.exit(1);
}

function readTensor(ort, spec) {
  const Type = ARRAYS[spec.type];
  if (!Type) throw new Error(`input ${spec.name}: unsupported type ${spec.type}`);
  const bytes = fs.readFileSync(spec.file);
  const data = new Type(bytes.byteLength / Type.BYTES_PER_ELEMENT);
  new Uint8Array(data.buffer).set(bytes);
  return new ort.Tensor(spec.type, data, spec.dims);
}

async function runOne(ort, run) {
  const session = await ort.InferenceSession.create(run.model, {
    executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1,
    graphOptimizationLevel: 'disabled' });
  const feeds = {};
  for (const spec of run.inputs) feeds[spec.name] = readTensor(ort, spec);
  const names = run.outputs.map((o) => o.name);
  const result = await session.run(feeds, names);
  const described = [];
  for (const out of run.outputs) {
    const t = result[out.name];
    const data = t.data;
    fs.writeFileSync(out.file, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    described.push({ name: out.name, type: t.type, dims: t.dims });
  }
  return { outputs: described };
}

async function main() {
  const args = process.argv.slice(2);
  if (args.length !== 1) fail('usage: ort_graphs.mjs LIST.json');
  let ort;
  try {
    const mod = await import('onnxruntime-node');
    ort = mod.default ?? mod;
  } catch (e) {
    fail(`cannot load onnxruntime-node from ${path.join(here, 'node_modules')} (${e.message}); ` +
         'install it with: tools/fetch-model --with-reference');
  }
  let runs;
  try {
    runs = JSON.parse(fs.readFileSync(args[0], 'utf8'));
  } catch (e) {
    fail(`${args[0]}: cannot read the list of runs (${e.message})`);
  }
  for (const run of runs) {
    let report;
    try {
      report = await runOne(ort, run);
    } catch (e) {
      report = { error: e.message };
    }
    fs.writeFileSync(run.result, JSON.stringify(report));
  }
}

await main();
