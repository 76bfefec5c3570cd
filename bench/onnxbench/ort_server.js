// An Open Inference Protocol (KServe V2) server over ONNX Runtime (the npm
// package onnxruntime-node, which bundles the runtime's CPU library): the
// reference ferry-serve's ONNX path is measured against.
//
//   node ort_server.js MODEL.onnx PORT
//
// POST /v2/models/NAME/infer takes the network's own inputs by name (FP32 or
// INT64 tensors, "data" flat or nested) and answers the first output; GET
// /v2/health/ready answers 200 once the session is loaded. One intra-op
// thread: the bench gives both servers the same cores.
const http = require("http");
const ort = require("onnxruntime-node");

async function main() {
  const [model, port] = process.argv.slice(2);
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const server = http.createServer((req, res) => {
    if (req.method === "GET" && req.url === "/v2/health/ready") return res.end();
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", async () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString());
        const feeds = {};
        for (const t of body.inputs) {
          const flat = t.data.flat(Infinity);
          feeds[t.name] = t.datatype === "INT64"
            ? new ort.Tensor("int64", BigInt64Array.from(flat, BigInt), t.shape)
            : new ort.Tensor("float32", Float32Array.from(flat), t.shape);
        }
        const out = (await session.run(feeds))[session.outputNames[0]];
        res.setHeader("Content-Type", "application/json");
        res.end(JSON.stringify({ model_name: "m", outputs: [{ name: session.outputNames[0], shape: out.dims, datatype: "FP32", data: Array.from(out.data) }] }));
      } catch (e) {
        res.statusCode = 400;
        res.end(JSON.stringify({ error: String(e) }));
      }
    });
  });
  server.keepAliveTimeout = 60000;
  server.listen(Number(port), "127.0.0.1");
}

main().catch((e) => {
  process.stderr.write(String(e.stack || e) + "\n");
  process.exit(1);
});
