// Writes the Parquet fixtures of internal/data with DuckDB (the npm
// package @duckdb/node-api), a producer independent of ferry: the same
// click data as Parquet (Zstd and Snappy, three row groups, nulls,
// dictionary-encoded strings, booleans, integers, doubles, a decimal) and
// as CSV, which ferry's test reads both ways and compares; and files ferry
// must refuse (a nested column, a date column).
//
//   make testdata   (or: node hack/testdata/parquet.mjs with @duckdb/node-api in bin/duckdb)
import { mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(path.join(root, 'bin', 'duckdb', 'package.json'));
const { DuckDBInstance } = require('@duckdb/node-api');
const out = path.join(root, 'internal', 'data', 'testdata');

for (const d of ['clicks-by-day', 'changing-type', 'missing-column']) {
  rmSync(path.join(out, d), { recursive: true, force: true });
}
mkdirSync(path.join(out, 'changing-type'));
mkdirSync(path.join(out, 'missing-column'));
const db = await DuckDBInstance.create(':memory:');
const c = await db.connect();
// 5,000 impressions of 500 queries: a price (double, some null), a
// position (integer), a device (string, some null: dictionary-encoded), a
// promoted flag (boolean), a discount (decimal(5,2)), the product's views
// (a bigint of many values: plain-encoded), the click label.
await c.run(`CREATE TABLE clicks AS SELECT
  'q' || lpad((i // 10)::VARCHAR, 3, '0') AS query,
  CASE WHEN i % 17 = 0 THEN NULL ELSE round(5 + (hash(i) % 10000) / 100.0, 2) END AS price,
  (i % 10 + 1)::INTEGER AS position,
  CASE WHEN i % 13 = 0 THEN NULL ELSE ['mobile', 'desktop', 'tablet'][(hash(i * 7) % 3)::INTEGER + 1] END AS device,
  (i % 4 = 0) AS promoted,
  ((hash(i * 3) % 50) / 100.0)::DECIMAL(5, 2) AS discount,
  (hash(i * 5) % 1000000)::BIGINT AS views,
  (hash(i * 11) % 10 < 3 - (i % 10) / 5)::INTEGER AS clicked
FROM range(5000) t(i)`);
for (const codec of ['zstd', 'snappy']) {
  await c.run(`COPY clicks TO '${out}/clicks-${codec}.parquet' (FORMAT parquet, COMPRESSION ${codec}, ROW_GROUP_SIZE 2048)`);
}
await c.run(`COPY (SELECT query, price, position, device, promoted::INTEGER AS promoted, discount::DOUBLE AS discount, views, clicked FROM clicks)
  TO '${out}/clicks.csv' (HEADER, DELIMITER ',')`);
// The same rows partitioned by day, Hive style (clicks-by-day/dt=2026-12-01/...),
// and as one CSV with the day as a column, in the order ferry reads the files.
await c.run(`CREATE TABLE days AS SELECT *, '2026-12-0' || (1 + (row_number() OVER () - 1) % 3)::VARCHAR AS dt FROM clicks`);
await c.run(`COPY (SELECT * FROM days ORDER BY dt, query, position) TO '${out}/clicks-by-day' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (dt), OVERWRITE_OR_IGNORE)`);
await c.run(`COPY (SELECT query, price, position, device, promoted::INTEGER AS promoted, discount::DOUBLE AS discount, views, clicked, dt
  FROM days ORDER BY dt, query, position) TO '${out}/clicks-by-day.csv' (HEADER, DELIMITER ',')`);
// Sets ferry must refuse: a type that changes between files, a column missing from one.
await c.run(`COPY (SELECT i::DOUBLE AS x, i % 2 AS y FROM range(10) t(i)) TO '${out}/changing-type/a.parquet' (FORMAT parquet)`);
await c.run(`COPY (SELECT i::VARCHAR AS x, i % 2 AS y FROM range(10) t(i)) TO '${out}/changing-type/b.parquet' (FORMAT parquet)`);
await c.run(`COPY (SELECT i::DOUBLE AS x, i % 2 AS y FROM range(10) t(i)) TO '${out}/missing-column/a.parquet' (FORMAT parquet)`);
await c.run(`COPY (SELECT i % 2 AS y FROM range(10) t(i)) TO '${out}/missing-column/b.parquet' (FORMAT parquet)`);
await c.run(`COPY (SELECT i AS x, {'a': i, 'b': 'v'} AS nested, i % 2 AS y FROM range(10) t(i)) TO '${out}/nested.parquet' (FORMAT parquet)`);
await c.run(`COPY (SELECT i::DOUBLE AS x, DATE '2026-12-01' + i::INTEGER AS day, i % 2 AS y FROM range(10) t(i)) TO '${out}/dates.parquet' (FORMAT parquet)`);
console.log('wrote the Parquet fixtures to', out);
