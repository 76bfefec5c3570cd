// Runs an ONNX model with ONNX Runtime (the npm package onnxruntime-node,
// which bundles the runtime's own CPU library): the independent reference
// ferry's executor is checked against.
//
//   node ort.js MODEL.onnx < feeds.json
//
// feeds.json: {"NAME": {"type": "float32" | "int64", "dims": [...], "data": [...]}};
// prints the first output's values as a JSON array.
const ort = require("onnxruntime-node");

async function main() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  const spec = JSON.parse(Buffer.concat(chunks).toString());
  const feeds = {};
  for (const [name, t] of Object.entries(spec)) {
    const data = t.type === "int64" ? BigInt64Array.from(t.data.map(BigInt)) : Float32Array.from(t.data);
    feeds[name] = new ort.Tensor(t.type, data, t.dims);
  }
  const session = await ort.InferenceSession.create(process.argv[2], { intraOpNumThreads: 1 });
  const out = await session.run(feeds);
  process.stdout.write(JSON.stringify(Array.from(out[session.outputNames[0]].data, Number)));
}

main().catch((e) => {
  process.stderr.write(String(e.stack || e) + "\n");
  process.exit(1);
});
