// Writes sensor events as one Arrow IPC stream with Apache Arrow's JavaScript library, the way a
// producer outside .NET builds a batch: tableFromArrays, whose strings are dictionary-encoded.
//   node write-events.mjs <rows.json> <out.arrow> [dictionary|large-utf8]
// rows.json holds [{ id, temperature_c, vibration_mm_s, pressure_kpa, site }]: temperature_c is
// written as int32, vibration_mm_s and pressure_kpa as float64, and site as a large string
// column the model does not read.
import { readFileSync, writeFileSync } from 'node:fs';
import { LargeUtf8, Table, tableFromArrays, tableToIPC, vectorFromArray } from 'apache-arrow';

const [input, output, idEncoding = 'dictionary'] = process.argv.slice(2);
if (!input || !output || !['dictionary', 'large-utf8'].includes(idEncoding)) {
  console.error('usage: node write-events.mjs <rows.json> <out.arrow> [dictionary|large-utf8]');
  process.exit(2);
}

const rows = JSON.parse(readFileSync(input, 'utf8'));
const ids = rows.map(row => row.id);
const numbers = tableFromArrays({
  ...(idEncoding === 'dictionary' ? { id: ids } : {}),
  temperature_c: Int32Array.from(rows, row => row.temperature_c),
  vibration_mm_s: Float64Array.from(rows, row => row.vibration_mm_s),
  pressure_kpa: Float64Array.from(rows, row => row.pressure_kpa),
});
const strings = new Table({
  ...(idEncoding === 'large-utf8' ? { id: vectorFromArray(ids, new LargeUtf8()) } : {}),
  site: vectorFromArray(rows.map(row => row.site), new LargeUtf8()),
});
const table = numbers.assign(strings);

writeFileSync(output, tableToIPC(table, 'stream'));
console.log(table.schema.fields.map(field => `${field.name}: ${field.type}`).join(', '));
