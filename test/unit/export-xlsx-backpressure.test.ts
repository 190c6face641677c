import ExcelJS from 'exceljs';
import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';

/**
 * The xlsx export waits for the stream exceljs feeds the zip from (functions/exports/formats.ts,
 * compressorCaughtUp) through exceljs internals. If an exceljs upgrade moves them, that wait
 * silently stops and a 1M-row export grows by ~180 MB again: this fails first.
 */
describe('exceljs internals the xlsx backpressure relies on', () => {
  it('a streaming sheet exposes the stream it pipes into, with a writable state that reports needDrain', async () => {
    const output = new PassThrough();
    output.resume();
    const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: output, useSharedStrings: false, useStyles: false });
    const sheet = workbook.addWorksheet('Export');
    for (let row = 0; row < 5_000; row++) sheet.addRow([row, 'x'.repeat(100)]).commit();
    // Let the archiver reach the sheet's entry and attach its reader.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const pipes = (sheet as unknown as { stream: { pipes: Array<Writable & { _writableState?: { needDrain?: boolean } }> } }).stream.pipes;
    expect(Array.isArray(pipes)).toBe(true);
    expect(pipes.length).toBeGreaterThan(0);
    for (const pipe of pipes) {
      expect(typeof (pipe.writableNeedDrain ?? pipe._writableState?.needDrain)).toBe('boolean');
      expect(typeof pipe.once).toBe('function');
    }
    sheet.commit();
    await workbook.commit();
  });
});
