import { stringify } from 'csv-stringify/sync';
import { describe, expect, it } from 'vitest';
import { csvField, formatChunks, type ExportColumn, type ExportRow } from '#functions/exports/formats';

/**
 * The CSV formatter writes fields itself for speed (functions/exports/formats.ts csvStream); these
 * tests hold it to the bytes csv-stringify writes with the options the export used before.
 */
const CSV_STRINGIFY_OPTIONS = { escape_formulas: true, record_delimiter: 'windows', quoted_match: /[\r\n]/ } as const;

const HOSTILE = [
  '',
  'plain',
  'line one\nline two',
  'carriage\rreturn',
  'both\r\nkinds',
  'trailing newline\n',
  'trailing cr\r',
  '\nleading newline',
  '\rleading cr',
  'a "quoted" word',
  '"',
  '""',
  'comma, separated',
  ',',
  'tab\tinside',
  "'already quoted",
  '🚀 emoji ✓ Zoë',
  '日本語',
  '=1+1',
  '+SUM(A1:A2)',
  '-2+3',
  '-',
  '@cmd',
  '\t=1+1',
  '\r=1+1',
  '=HYPERLINK("http://evil","x")',
  '=a,b\nc',
  '\uFF1D1+1',
  '\uFF0B1',
  '\uFF0D1',
  '\uFF20cmd',
  ' leading space',
  'trailing space ',
  '{"tags":["a","b"],"n":1}',
  'x'.repeat(10_000),
];

/** Strings of the characters CSV cares about, mixed with ordinary ones: a seeded generator, so a failure repeats. */
function randomFields(count: number, seed = 7): string[] {
  const alphabet = ['a', 'Z', '0', ' ', ',', '"', '\r', '\n', '\t', '=', '+', '-', '@', "'", '\uFF1D', '\uFF20', 'é', '🚀', ';'];
  let state = seed;
  const next = () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state;
  };
  return Array.from({ length: count }, () => Array.from({ length: next() % 12 }, () => alphabet[next() % alphabet.length]).join(''));
}

describe('csvField', () => {
  it('writes every hostile field exactly as csv-stringify does with escape_formulas and CRLF records', () => {
    for (const value of HOSTILE) expect(`${csvField(value)}\r\n`, JSON.stringify(value)).toBe(stringify([[value]], CSV_STRINGIFY_OPTIONS));
  });

  it('agrees with csv-stringify on 5,000 random fields of quotes, delimiters, line breaks and formula characters', () => {
    const fields = randomFields(5_000);
    const ours = fields.map((value) => csvField(value));
    const theirs = stringify(
      fields.map((value) => [value]),
      CSV_STRINGIFY_OPTIONS,
    )
      .split('\r\n')
      .slice(0, -1);
    // A quoted field may hold CRLF itself: compare the whole text, then field by field where it splits cleanly.
    expect(ours.join('\r\n')).toBe(theirs.join('\r\n'));
    expect(new Set(ours).size).toBeGreaterThan(1_000);
  });

  it('quotes and prefixes the cases that matter to a spreadsheet', () => {
    expect(csvField('=1+1')).toBe("'=1+1");
    expect(csvField('=a,b')).toBe(`"'=a,b"`);
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('lone\nLF')).toBe('"lone\nLF"');
    expect(csvField('lone\rCR')).toBe('"lone\rCR"');
    expect(csvField('plain text')).toBe('plain text');
  });
});

describe('formatChunks csv', () => {
  it('writes the same file as csv-stringify with the BOM, header and CRLF records', async () => {
    const columns: ExportColumn[] = [
      { key: 'id', header: 'Id' },
      { key: 'text', header: '=Header, "quoted"' },
      { key: 'extra', header: 'Extra' },
    ];
    const rows: ExportRow[] = HOSTILE.map((text, id) => ({ id, text, extra: id % 3 === 0 ? null : { id, text } }));
    async function* source(): AsyncGenerator<ExportRow> {
      for (const row of rows) yield row;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of formatChunks('csv', columns, source())) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk));
    const cell = (value: unknown) => (value === null || value === undefined ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value));
    const expected = stringify([columns.map((column) => column.header), ...rows.map((row) => columns.map((column) => cell(row[column.key])))], {
      ...CSV_STRINGIFY_OPTIONS,
      bom: true,
    });
    expect(Buffer.concat(chunks).toString('utf8')).toBe(expected);
  });
});
