// DuckDB's side of bench/parquetbench (the npm package @duckdb/node-api,
// installed into bin/duckdb by `./hack/deps.sh bench`):
//
//   node duckdb.mjs gen ROWS DIR        write DIR/data.parquet (Zstd) and DIR/data.csv
//   node duckdb.mjs read FILE THREADS   load FILE into an in-memory table: print the seconds
//   node duckdb.mjs noop                start and stop: the runtime's own memory
//
// Run by `go run ./bench/parquetbench`, not by hand.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(path.join(root, 'bin', 'duckdb', 'package.json'));
const { DuckDBInstance } = require('@duckdb/node-api');

const [cmd, a, b] = process.argv.slice(2);
const db = await DuckDBInstance.create(':memory:');
const c = await db.connect();
if (cmd === 'gen') {
  // 20 columns, as a click log's features: 18 doubles, a category, the label.
  const cols = [];
  for (let j = 0; j < 18; j++) cols.push(`(hash(i * ${j + 3}) % 100000) / 1000.0 AS x${j}`);
  const q = `SELECT ${cols.join(', ')}, ['mobile', 'desktop', 'tablet', 'app'][(hash(i) % 4)::INTEGER + 1] AS device,
    (hash(i * 97) % 2)::INTEGER AS clicked FROM range(${Number(a)}) t(i)`;
  await c.run(`COPY (${q}) TO '${b}/data.parquet' (FORMAT parquet, COMPRESSION zstd)`);
  await c.run(`COPY (${q}) TO '${b}/data.csv' (HEADER)`);
} else if (cmd === 'read') {
  await c.run(`SET threads = ${Number(b)}`);
  const start = process.hrtime.bigint();
  await c.run(`CREATE TABLE t AS SELECT * FROM read_parquet('${a}')`);
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  const n = (await c.runAndReadAll('SELECT count(*) FROM t')).getRows()[0][0];
  console.log(JSON.stringify({ seconds: secs, rows: Number(n) }));
}
