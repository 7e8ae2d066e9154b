// Runs ONNX models with onnxruntime-node for export.py's check.
// usage: node run_onnx.mjs <job.json>; job = [{model, inputs: {name: {file, dtype, dims}}, outDir, tag}]
import { readFileSync, writeFileSync } from "node:fs";
import * as ort from "onnxruntime-node";

const jobs = JSON.parse(readFileSync(process.argv[2], "utf8"));
for (const job of jobs) {
  const t0 = Date.now();
  const sess = await ort.InferenceSession.create(job.model);
  const loadMs = Date.now() - t0;
  const feeds = {};
  for (const [name, spec] of Object.entries(job.inputs)) {
    const buf = readFileSync(spec.file);
    const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
    const data = spec.dtype === "int32" ? new Int32Array(ab) : new Float32Array(ab);
    feeds[name] = new ort.Tensor(spec.dtype, data, spec.dims);
  }
  const t1 = Date.now();
  const out = await sess.run(feeds);
  const runMs = Date.now() - t1;
  const meta = {};
  for (const [name, t] of Object.entries(out)) {
    writeFileSync(`${job.outDir}/${job.tag}.${name}.bin`, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    meta[name] = { dims: t.dims, type: t.type };
  }
  writeFileSync(`${job.outDir}/${job.tag}.meta.json`, JSON.stringify({ outputs: meta, inputNames: sess.inputNames,
    outputNames: sess.outputNames, loadMs, runMs }));
}
