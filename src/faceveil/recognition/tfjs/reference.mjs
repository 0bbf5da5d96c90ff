// Runs a TF.js graph model with the reference runtime (@tensorflow/tfjs-converter on the pure-JavaScript
// CPU backend, @tensorflow/tfjs-backend-cpu) on inputs written by faceveil.recognition.tfjs.parity, and
// writes the outputs back.
//   node reference.mjs NODE_MODULES_PARENT MODEL_JSON INPUT.f32 N H W C OUTPUT_NODE OUT.f32
// INPUT.f32 and OUT.f32: little-endian float32, row-major (N, H, W, C) and (N, D).
import { createRequire } from 'module';
import fs from 'fs';
import path from 'path';

const [prefix, modelJson, inputFile, n, h, w, c, outputNode, outFile] = process.argv.slice(2);
const require = createRequire(path.join(path.resolve(prefix), 'package.json'));
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
const converter = require('@tensorflow/tfjs-converter');
await tf.setBackend('cpu');

const spec = JSON.parse(fs.readFileSync(modelJson, 'utf8'));
const weightSpecs = [];
const buffers = [];
for (const group of spec.weightsManifest) {
  weightSpecs.push(...group.weights);
  for (const p of group.paths) buffers.push(fs.readFileSync(path.join(path.dirname(modelJson), p)));
}
const all = Buffer.concat(buffers);
const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
const handler = { load: async () => ({ modelTopology: spec.modelTopology, weightSpecs, weightData,
  format: spec.format, generatedBy: spec.generatedBy, convertedBy: spec.convertedBy }) };
const model = await converter.loadGraphModel(handler);

const raw = fs.readFileSync(inputFile);
const data = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
const shape = [Number(n), Number(h), Number(w), Number(c)];
const per = shape[1] * shape[2] * shape[3];
const chunks = [];
for (let i = 0; i < shape[0]; i++) {  // one image at a time: the CPU backend's memory stays small
  const x = tf.tensor4d(data.subarray(i * per, (i + 1) * per), [1, shape[1], shape[2], shape[3]]);
  const y = model.execute(x, outputNode);
  chunks.push(Buffer.from((await y.data()).buffer));
  tf.dispose([x, y]);
}
fs.writeFileSync(outFile, Buffer.concat(chunks));
