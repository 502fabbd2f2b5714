// ort_worker.mjs - onnxruntime-node side of bench_cutout: loads one ONNX
// model once, then answers commands read line by line from stdin so that
// the benchmark can interleave its own runs with onnxruntime's.
//
// Usage: node benchmarks/ort_worker.mjs NODE_MODULES_DIR MODEL.onnx THREADS
// Commands (one per line):  "run B"  -> runs B single-image forward passes on
// a 1 x 3 x S x S input (S = the model's input size) and prints
// "ok <milliseconds for all B>";  "quit" ends. Prints "ready <version>"
// after loading and "error <message>" on any failure.
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { createRequire } from 'node:module';

const [modulesDir, modelPath, threadsText] = process.argv.slice(2);
function fail(message) {
  console.log(`error ${message}`);
  process.exit(1);
}
if (!modulesDir || !modelPath) fail('usage: ort_worker.mjs NODE_MODULES_DIR MODEL.onnx THREADS');
const require = createRequire(path.join(path.resolve(modulesDir), 'x.js'));
let ort;
try {
  ort = require('onnxruntime-node');
} catch (e) {
  fail(`cannot load onnxruntime-node from ${modulesDir}: ${e.message}`);
}
const version = JSON.parse(fs.readFileSync(path.join(modulesDir, 'onnxruntime-node/package.json'))).version;
const threads = Number.parseInt(threadsText ?? '2', 10);
const session = await ort.InferenceSession.create(modelPath, {
  executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1 });
const side = 1024;
const data = new Float32Array(3 * side * side);
for (let i = 0; i < data.length; ++i) data[i] = ((i * 2654435761) % 256 - 128) / 256;
const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, [1, 3, side, side]) };
console.log(`ready ${version}`);
const lines = readline.createInterface({ input: process.stdin });
for await (const line of lines) {
  const [cmd, arg] = line.trim().split(/\s+/);
  if (cmd === 'quit') break;
  if (cmd !== 'run') fail(`unknown command ${JSON.stringify(line)}`);
  const count = Number.parseInt(arg, 10);
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; ++i) await session.run(feeds);
  console.log(`ok ${(Number(process.hrtime.bigint() - start) / 1e6).toFixed(1)}`);
}
process.exit(0);
