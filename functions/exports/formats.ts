/**
 * Export file formats as chunks of the file, in order. Rows are pulled from the source only as fast
 * as the consumer (an S3 multipart upload) takes chunks, so memory stays bounded by a batch of rows
 * and stream buffers whatever the row count: nothing here collects rows.
 *
 * Values: dates become ISO-8601 strings and null or undefined an empty cell. CSV and XLSX cells
 * hold text, so objects and arrays become their JSON; JSON and NDJSON keep them structured and
 * write null for a missing value, so every object has every column. JSON and NDJSON name fields
 * by column key, CSV and XLSX head columns with the column header.
 */
import { PassThrough, type Writable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import ExcelJS from 'exceljs';

export const EXPORT_FORMATS = ['csv', 'ndjson', 'json', 'xlsx'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportColumn {
  readonly key: string;
  readonly header: string;
}

export type ExportRow = Record<string, unknown>;

const CONTENT_TYPES: Record<ExportFormat, string> = {
  csv: 'text/csv; charset=utf-8',
  ndjson: 'application/x-ndjson',
  json: 'application/json',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
};

export function contentTypeOf(format: ExportFormat): string {
  return CONTENT_TYPES[format];
}

export function fileExtensionOf(format: ExportFormat): string {
  return `.${format}`;
}

/**
 * The export as chunks in order, pulled as the consumer reads: the text formats' strings as they
 * are made (about 60 KB each), XLSX's zip as Buffers. The export upload takes these, so text is
 * encoded once, straight into its part buffers, rather than into a Buffer per chunk first
 * (docs/exports.md, "Herald's own multipart upload"). An error from `rows` is thrown by the iteration.
 */
export function formatChunks(format: ExportFormat, columns: readonly ExportColumn[], rows: AsyncIterable<ExportRow>): AsyncIterable<string | Uint8Array> {
  return format === 'xlsx' ? xlsxStream(columns, rows) : textChunks(format, columns, rows);
}

function textChunks(format: Exclude<ExportFormat, 'xlsx'>, columns: readonly ExportColumn[], rows: AsyncIterable<ExportRow>): AsyncGenerator<string> {
  switch (format) {
    case 'csv':
      return csvChunks(columns, rows);
    case 'ndjson':
      return ndjsonChunks(columns, rows);
    case 'json':
      return jsonChunks(columns, rows);
  }
}

/** A cell as text: ISO dates, JSON for objects, empty for null and undefined. */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'string') return value;
  if (typeof value === 'object') return toJson(value) ?? '';
  return String(value);
}

/**
 * JSON text, a BigInt as its digits. JSON.stringify with a replacer function leaves V8's fast
 * serializer and took about four times as long per row (bench/exports.ts), and no dataset reads a
 * BigInt today (exportValue keeps large numbers as digits): so the plain call first, and the
 * replacer only for a value the plain call refuses.
 */
export function toJson(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch (error) {
    if (error instanceof TypeError && /BigInt/i.test(error.message)) return JSON.stringify(value, jsonReplacer);
    throw error;
  }
}

function jsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

/**
 * A row as a JSON object with every column, null for a missing value. The text is put together
 * from each value's JSON and the column names' JSON, worked out once: no object per row to build
 * and collect, and a column called `__proto__` (a records attribute may be) is written as any other.
 */
function rowJsonOf(columns: readonly ExportColumn[]): (row: ExportRow) => string {
  const keys = columns.map((column) => column.key);
  const prefixes = keys.map((key, index) => `${index === 0 ? '{' : ','}${JSON.stringify(key)}:`);
  return (row) => {
    let text = '';
    for (let index = 0; index < keys.length; index++) {
      const value = row[keys[index]!];
      // toJson answers undefined for what JSON has no form for (a function): null, as JSON.stringify writes it in an object.
      text += prefixes[index]! + (value === null || value === undefined ? 'null' : (toJson(value) ?? 'null'));
    }
    return keys.length === 0 ? '{}' : `${text}}`;
  };
}

/**
 * CSV, a batch of rows at a time, written by `csvField`: the bytes csv-stringify writes with the
 * options below (test/unit/export-csv-field.test.ts checks the two agree on hostile values), at a
 * fraction of its CPU. csv-stringify allocates a context object, a tuple and separator arrays per
 * field and copies each value to look for the two-character CRLF delimiter; at 13 columns that was
 * most of the CPU and the garbage the CSV export added to a bare read (bench/exports.ts,
 * docs/exports.md). The options it reproduces: escape_formulas (a leading ' on a cell starting with
 * = + - @ tab or CR, or their full-width forms, so no spreadsheet runs it), a CRLF record delimiter
 * and a BOM (what Excel needs to read UTF-8 CSV as RFC 4180 intends), and quoted_match /[\r\n]/:
 * with a CRLF delimiter csv-stringify leaves a lone LF or CR unquoted (adaltas/node-csv#467), which
 * splits the row in every spreadsheet, so any field holding one is quoted.
 */
async function* csvChunks(columns: readonly ExportColumn[], rows: AsyncIterable<ExportRow>): AsyncGenerator<string> {
  const keys = columns.map((column) => column.key);
  yield `\uFEFF${columns.map((column) => csvField(column.header)).join(',')}\r\n`;
  for await (const batch of batches(rows)) {
    let text = '';
    for (const row of batch) {
      for (let index = 0; index < keys.length; index++) text += (index === 0 ? '' : ',') + csvField(cellText(row[keys[index]!]));
      text += '\r\n';
    }
    yield text;
  }
}

/** A field that must be quoted: it holds the delimiter, a quote or a line break. */
const CSV_QUOTE_NEEDED = /[",\r\n]/;

/** One CSV field as csv-stringify writes it with escape_formulas and CRLF records (above). */
export function csvField(value: string): string {
  if (value === '') return value;
  if (startsFormula(value.charCodeAt(0))) value = `'${value}`;
  return CSV_QUOTE_NEEDED.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** = + - @ tab CR, and the full-width = + - @ (U+FF1D, U+FF0B, U+FF0D, U+FF20): what escape_formulas prefixes. */
function startsFormula(code: number): boolean {
  switch (code) {
    case 0x3d:
    case 0x2b:
    case 0x2d:
    case 0x40:
    case 0x09:
    case 0x0d:
    case 0xff1d:
    case 0xff0b:
    case 0xff0d:
    case 0xff20:
      return true;
    default:
      return false;
  }
}

async function* ndjsonChunks(columns: readonly ExportColumn[], rows: AsyncIterable<ExportRow>): AsyncGenerator<string> {
  const rowJson = rowJsonOf(columns);
  for await (const batch of batches(rows)) yield batch.map((row) => `${rowJson(row)}\n`).join('');
}

async function* jsonChunks(columns: readonly ExportColumn[], rows: AsyncIterable<ExportRow>): AsyncGenerator<string> {
  const rowJson = rowJsonOf(columns);
  let empty = true;
  for await (const batch of batches(rows)) {
    yield `${empty ? '[\n' : ',\n'}${batch.map(rowJson).join(',\n')}`;
    empty = false;
  }
  yield empty ? '[]\n' : '\n]\n';
}

/**
 * The text formats write a batch of rows as one string: one chunk per batch, not per row (about 4%
 * less CPU for CSV, bench/exports.ts). A batch is about 60 KB of CSV, which the upload copies into
 * its part buffer before it asks for the next, so memory stays a batch plus the upload's parts.
 */
const ROWS_PER_BATCH = 200;

async function* batches(rows: AsyncIterable<ExportRow>): AsyncGenerator<ExportRow[]> {
  let batch: ExportRow[] = [];
  for await (const row of rows) {
    batch.push(row);
    if (batch.length >= ROWS_PER_BATCH) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

/**
 * The style of every data cell: one object. exceljs gives each new cell a fresh empty style and
 * works out each cell's style XML again at commit unless it has seen that very object (its
 * WeakMap), which was a third of the XLSX formatter's CPU (bench/exports.ts); the cells are unstyled either way.
 */
const UNSTYLED: Partial<ExcelJS.Style> = Object.freeze({});

/** How many rows go to the workbook between checks that compression has caught up. */
const XLSX_ROWS_PER_TURN = 200;

function xlsxStream(columns: readonly ExportColumn[], rows: AsyncIterable<ExportRow>): PassThrough {
  const output = new PassThrough({ highWaterMark: 64 * 1024 });
  void writeWorkbook(output, columns, rows).catch((error: unknown) => output.destroy(error as Error));
  return output;
}

async function writeWorkbook(output: PassThrough, columns: readonly ExportColumn[], rows: AsyncIterable<ExportRow>): Promise<void> {
  // No shared strings: that table lives in memory until the end. Styles for the bold header only.
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: output, useSharedStrings: false, useStyles: true });
  const sheet = workbook.addWorksheet('Export');
  const header = sheet.addRow(columns.map((column) => textCell(column.header)));
  header.font = { bold: true };
  header.commit();
  let sinceTurn = 0;
  for await (const row of rows) {
    if (output.destroyed) return;
    const added = sheet.addRow(columns.map((column) => xlsxCell(row[column.key])));
    added.eachCell({ includeEmpty: true }, (cell) => {
      cell.style = UNSTYLED;
    });
    added.commit();
    // exceljs writes into the zip without backpressure of its own: wait while the reader is
    // behind, and let compression run regularly so bytes do not pile up inside the archiver.
    if (output.writableNeedDrain) await drained(output);
    if (++sinceTurn >= XLSX_ROWS_PER_TURN) {
      sinceTurn = 0;
      await nextTurn();
      await compressorCaughtUp(sheet);
      if (output.writableNeedDrain) await drained(output);
    }
  }
  sheet.commit();
  await workbook.commit();
}

/**
 * exceljs's sheet stream hands every 64 KB of sheet XML to the stream the zip reads it from
 * without waiting for it (its `pipes`: a readable-stream PassThrough in exceljs 4), so with a fast
 * row source uncompressed XML piles up there, about 180 bytes a row. Waiting for that stream to
 * drain keeps the export's memory flat. `pipes` and `_writableState` are internals: a version that
 * changes them only loses the wait, not the file (test/unit/export-xlsx-backpressure.test.ts checks they hold).
 */
async function compressorCaughtUp(sheet: object): Promise<void> {
  const pipes = (sheet as { stream?: { pipes?: unknown } }).stream?.pipes;
  if (!Array.isArray(pipes)) return;
  for (const pipe of pipes as Array<Writable & { _writableState?: { needDrain?: boolean } }>) {
    if (pipe.writableNeedDrain ?? pipe._writableState?.needDrain) await drained(pipe);
  }
}

/** A string cell as an inline string (t="inlineStr"), which spreadsheets never read as a formula. */
function textCell(text: string): ExcelJS.CellValue {
  return text === '' ? null : { richText: [{ text: xmlSafe(text) }] };
}

function xlsxCell(value: unknown): ExcelJS.CellValue {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'boolean') return value;
  return textCell(cellText(value));
}

/**
 * XML 1.0 cannot carry most control characters (a workbook holding one would not open), and its
 * parsers turn CR and CRLF into LF anyway; spreadsheets break lines in a cell with LF.
 */
function xmlSafe(text: string): string {
  return text.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '').replace(/\r\n?/g, '\n');
}

function drained(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}
