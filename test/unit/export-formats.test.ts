import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';
import ExcelJS from 'exceljs';
import { describe, expect, it } from 'vitest';
import { contentTypeOf, fileExtensionOf, formatChunks, type ExportColumn, type ExportFormat, type ExportRow } from '#functions/exports/formats';
import { parse as parseCsvText } from 'csv-parse/sync';

const columns: ExportColumn[] = [
  { key: 'id', header: 'ID' },
  { key: 'title', header: 'Title' },
  { key: 'at', header: 'Created at' },
  { key: 'meta', header: 'Meta' },
];

async function* fromArray(rows: readonly ExportRow[]): AsyncGenerator<ExportRow> {
  for (const row of rows) yield row;
}

async function* generated(count: number, counter?: { pulled: number }): AsyncGenerator<ExportRow> {
  for (let i = 0; i < count; i++) {
    if (counter) counter.pulled++;
    yield { id: i, title: `row ${i}`, at: new Date(Date.UTC(2026, 0, 1) + i * 1000), meta: { i } };
  }
}

/** The file the chunks make: text as UTF-8, bytes as they are (what the upload writes). */
async function bytesOf(chunks: AsyncIterable<string | Uint8Array>): Promise<Buffer> {
  const buffers: Buffer[] = [];
  for await (const chunk of chunks) buffers.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk));
  return Buffer.concat(buffers);
}

/**
 * CSV read back by csv-parse, an independent reader, as a spreadsheet reads it: any of CRLF, LF or
 * CR outside quotes ends a record (RFC 4180 wants a field holding a line break quoted).
 */
function parseCsv(text: string): string[][] {
  return parseCsvText(text, { bom: true, relax_column_count: true, record_delimiter: ['\r\n', '\n', '\r'] });
}

async function csvOf(rows: AsyncIterable<ExportRow>, cols = columns): Promise<string[][]> {
  const text = (await bytesOf(formatChunks('csv', cols, rows))).toString('utf8');
  expect(text.startsWith('\uFEFF')).toBe(true);
  return parseCsv(text.slice(1));
}

async function workbookOf(rows: AsyncIterable<ExportRow>, cols = columns): Promise<ExcelJS.Worksheet> {
  const workbook = new ExcelJS.Workbook();
  await workbook.xlsx.load((await bytesOf(formatChunks('xlsx', cols, rows))) as unknown as ExcelJS.Buffer);
  return workbook.worksheets[0]!;
}

const tricky = [
  { id: 1, title: 'Zoë said "hi", then left\r\nand came back\n', at: null, meta: undefined },
  { id: 2, title: '日本語 ✓ 🚀', at: new Date('2026-03-29T01:30:00.000Z'), meta: { tags: ['a', 'b'], n: 1 } },
];
const INJECTIONS = ['=1+1', '+SUM(A1:A2)', '-2+3', '@cmd', '\t=1+1', '\r=1+1', '=HYPERLINK("http://evil","x")'];

describe('formatChunks: CSV', () => {
  it('writes a header row, then every row; values as text', async () => {
    expect(await csvOf(fromArray(tricky))).toEqual([
      ['ID', 'Title', 'Created at', 'Meta'],
      ['1', 'Zoë said "hi", then left\r\nand came back\n', '', ''],
      ['2', '日本語 ✓ 🚀', '2026-03-29T01:30:00.000Z', '{"tags":["a","b"],"n":1}'],
    ]);
  });

  it('round-trips hostile values through an independent RFC 4180 reader: line breaks, CR, tabs, quotes, commas, emoji, long text', async () => {
    const hostile = [
      'line one\nline two',
      'carriage\rreturn',
      'both\r\nkinds',
      'trailing newline\n',
      '\nleading newline',
      'a "quoted" word',
      'comma, separated',
      'tab\tinside',
      '🚀 emoji ✓ Zoë',
      'x'.repeat(10_000),
      ...INJECTIONS,
    ];
    const records = await csvOf(fromArray(hostile.map((title, id) => ({ id, title }))), columns.slice(0, 2));
    expect(records).toHaveLength(hostile.length + 1);
    // Only the formula-escaping prefix may differ.
    expect(records.slice(1).map((record) => record[1])).toEqual(hostile.map((value) => (/^[=+\-@\t\r]/.test(value) ? `'${value}` : value)));
  });

  it('neutralises formula injection with a leading quote', async () => {
    const records = await csvOf(fromArray(INJECTIONS.map((title, id) => ({ id, title }))), columns.slice(0, 2));
    expect(records.slice(1).map((record) => record[1])).toEqual(INJECTIONS.map((payload) => `'${payload}`));
  });

  it('counts 20 000 rows', async () => {
    const records = await csvOf(generated(20_000));
    expect(records).toHaveLength(20_001);
    expect(records.at(-1)).toEqual(['19999', 'row 19999', new Date(Date.UTC(2026, 0, 1) + 19_999_000).toISOString(), '{"i":19999}']);
  });

  it('pulls rows only as fast as a slow reader takes bytes (constant memory)', async () => {
    const counter = { pulled: 0 };
    let written = 0;
    let maxAhead = 0;
    const slowReader = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _encoding, done) {
        // Rows end with CRLF; the header row is not one of the pulled rows.
        written += chunk.toString('utf8').split('\r\n').length - 1;
        maxAhead = Math.max(maxAhead, counter.pulled - (written - 1));
        setImmediate(done);
      },
    });
    await pipeline(formatChunks('csv', columns, generated(200_000, counter)), slowReader);
    expect(written).toBe(200_001);
    expect(counter.pulled).toBe(200_000);
    // Stream buffers hold a few hundred rows at most; an accumulating writer would be ~200 000 ahead.
    expect(maxAhead).toBeLessThan(2_000);
  });

  it('fails the stream when the rows fail', async () => {
    async function* broken(): AsyncGenerator<ExportRow> {
      yield { id: 1 };
      throw new Error('DynamoDB page failed');
    }
    await expect(bytesOf(formatChunks('csv', columns, broken()))).rejects.toThrow('DynamoDB page failed');
  });
});

describe('formatChunks: NDJSON and JSON', () => {
  const expected = [
    { id: 1, title: 'Zoë said "hi", then left\r\nand came back\n', at: null, meta: null },
    { id: 2, title: '日本語 ✓ 🚀', at: '2026-03-29T01:30:00.000Z', meta: { tags: ['a', 'b'], n: 1 } },
  ];

  it('writes one object per line, every column present', async () => {
    const text = (await bytesOf(formatChunks('ndjson', columns, fromArray(tricky)))).toString('utf8');
    expect(text.endsWith('\n')).toBe(true);
    expect(
      text
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line)),
    ).toEqual(expected);
  });

  it('writes one JSON array, also when empty', async () => {
    expect(JSON.parse((await bytesOf(formatChunks('json', columns, fromArray(tricky)))).toString('utf8'))).toEqual(expected);
    expect(JSON.parse((await bytesOf(formatChunks('json', columns, fromArray([])))).toString('utf8'))).toEqual([]);
  });

  it.each(['ndjson', 'json'] as const)('%s counts 20 000 rows', async (format) => {
    const text = (await bytesOf(formatChunks(format, columns, generated(20_000)))).toString('utf8');
    const rows =
      format === 'json'
        ? (JSON.parse(text) as ExportRow[])
        : text
            .trimEnd()
            .split('\n')
            .map((line) => JSON.parse(line) as ExportRow);
    expect(rows).toHaveLength(20_000);
    expect(rows[19_999]).toMatchObject({ id: 19_999, meta: { i: 19_999 } });
  });

  it('keeps bigints as strings rather than failing', async () => {
    const text = (await bytesOf(formatChunks('ndjson', [{ key: 'n', header: 'N' }], fromArray([{ n: 2n ** 70n }])))).toString('utf8');
    expect(JSON.parse(text)).toEqual({ n: (2n ** 70n).toString() });
    // Nested too, in a CSV cell as in JSON.
    const csv = (await bytesOf(formatChunks('csv', [{ key: 'o', header: 'O' }], fromArray([{ o: { n: 5n } }])))).toString('utf8');
    expect(csv.split('\r\n')[1]).toBe('"{""n"":""5""}"');
  });

  it('keeps a column called __proto__ as data in JSON and NDJSON', async () => {
    const columns = [
      { key: '__proto__', header: '__proto__' },
      { key: 'a', header: 'a' },
    ];
    const row = JSON.parse('{"__proto__": "x", "a": 1}') as ExportRow;
    for (const format of ['ndjson', 'json'] as const) {
      const text = (await bytesOf(formatChunks(format, columns, fromArray([row])))).toString('utf8');
      const parsed = JSON.parse(format === 'json' ? text : text.trim());
      expect(Object.getOwnPropertyDescriptor(format === 'json' ? parsed[0] : parsed, '__proto__')?.value).toBe('x');
    }
  });
});

describe('formatChunks: XLSX', () => {
  it('writes a header row and every row, round-tripping unicode and line breaks (as LF)', async () => {
    const sheet = await workbookOf(fromArray(tricky));
    expect(sheet.rowCount).toBe(3);
    expect(sheet.getRow(1).font).toMatchObject({ bold: true });
    const texts = [1, 2, 3].map((row) => [1, 2, 3, 4].map((column) => sheet.getRow(row).getCell(column).text));
    expect(texts).toEqual([
      ['ID', 'Title', 'Created at', 'Meta'],
      ['1', 'Zoë said "hi", then left\nand came back\n', '', ''],
      ['2', '日本語 ✓ 🚀', '2026-03-29T01:30:00.000Z', '{"tags":["a","b"],"n":1}'],
    ]);
    expect(sheet.getRow(2).getCell(1).type).toBe(ExcelJS.ValueType.Number);
    // The data cells share one empty style: not bold, no number format beyond General.
    for (const row of [2, 3]) for (const column of [1, 2, 3, 4]) expect(sheet.getRow(row).getCell(column).font?.bold).not.toBe(true);
    expect(sheet.getRow(2).getCell(1).numFmt ?? 'General').toBe('General');
  });

  it('stores formula-looking text as text, never as a formula', async () => {
    const sheet = await workbookOf(fromArray(INJECTIONS.map((title, id) => ({ id, title }))), columns.slice(0, 2));
    const cells = INJECTIONS.map((_, index) => sheet.getRow(index + 2).getCell(2));
    expect(cells.map((cell) => cell.text)).toEqual(INJECTIONS.map((payload) => payload.replace('\r', '\n')));
    for (const cell of cells) {
      expect([ExcelJS.ValueType.String, ExcelJS.ValueType.RichText]).toContain(cell.type);
      expect(cell.formula).toBeUndefined();
    }
    sheet.eachRow((row) => row.eachCell((cell) => expect(cell.type).not.toBe(ExcelJS.ValueType.Formula)));
  });

  it('counts 20 000 rows', async () => {
    const sheet = await workbookOf(generated(20_000));
    expect(sheet.rowCount).toBe(20_001);
    expect(sheet.getRow(20_001).getCell(2).text).toBe('row 19999');
  }, 30_000);

  it('stops pulling rows while nobody reads the stream', async () => {
    const counter = { pulled: 0 };
    const chunks = formatChunks('xlsx', columns, generated(200_000, counter))[Symbol.asyncIterator]();
    // Take one chunk, then stop reading: the writer must stall rather than build the workbook in memory.
    expect((await chunks.next()).done).toBe(false);
    let previous = -1;
    while (previous !== counter.pulled) {
      previous = counter.pulled;
      for (let turn = 0; turn < 50; turn++) await nextTurn();
    }
    expect(counter.pulled).toBeLessThan(20_000);
    await chunks.return?.();
  });
});

describe('content types and extensions', () => {
  it.each([
    ['csv', 'text/csv; charset=utf-8', '.csv'],
    ['ndjson', 'application/x-ndjson', '.ndjson'],
    ['json', 'application/json', '.json'],
    ['xlsx', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', '.xlsx'],
  ] as const)('%s', (format: ExportFormat, contentType, extension) => {
    expect(contentTypeOf(format)).toBe(contentType);
    expect(fileExtensionOf(format)).toBe(extension);
  });
});
