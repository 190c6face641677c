import { describe, expect, it } from 'vitest';
import { readyEmail, type ReadyEmailInput } from '#functions/exports/email';
import { escapeHtml, oneLine } from '#functions/shared/email';

const input: ReadyEmailInput = {
  scheduleName: 'Weekly work orders',
  rows: 1234,
  bytes: 2 * 1024 * 1024,
  format: 'csv',
  scheduledAt: '2026-03-08T06:00:00Z',
  link: 'https://api.example.com/exports/runs/r1/download?token=a.b&x=1',
  expiresAt: '2026-03-15T06:00:00Z',
  recipients: ['ana@example.com', 'bo@example.com'],
};

describe('the export-ready email', () => {
  it('carries the name, figures, link and expiry in both parts, to the recipients', () => {
    const email = readyEmail(input);
    expect(email.to).toEqual(input.recipients);
    expect(email.subject).toBe('Herald export ready: Weekly work orders');
    expect(email.text).toContain('Rows: 1234  Size: 2.0 MB  Format: CSV');
    expect(email.text).toContain(`Download: ${input.link}`);
    expect(email.text).toContain('until 2026-03-15T06:00:00Z');
    expect(email.html).toContain('<a href="https://api.example.com/exports/runs/r1/download?token=a.b&amp;x=1">');
  });

  it('lets no CR or LF (or other control character) from the name into the subject header', () => {
    const email = readyEmail({ ...input, scheduleName: 'Report\r\nBcc: evil@example.com\u0000\u007F' });
    expect(email.subject).not.toMatch(/[\r\n\u0000-\u001F\u007F]/);
    expect(email.subject).toBe('Herald export ready: Report Bcc: evil@example.com');
  });

  it('bounds the name in the subject', () => {
    expect(readyEmail({ ...input, scheduleName: 'x'.repeat(500) }).subject).toBe(`Herald export ready: ${'x'.repeat(100)}`);
  });

  it('escapes every value placed in the HTML', () => {
    const email = readyEmail({ ...input, scheduleName: '<img src=x onerror=alert(1)>', format: '<b>', link: 'https://x.test/"><script>' });
    expect(email.html).not.toContain('<img');
    expect(email.html).not.toContain('<script>');
    expect(email.html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(email.html).toContain('href="https://x.test/&quot;&gt;&lt;script&gt;"');
    expect(email.html).toContain('&lt;B&gt;');
  });

  it('escapes the five HTML metacharacters and flattens control characters', () => {
    expect(escapeHtml(`&<>"'`)).toBe('&amp;&lt;&gt;&quot;&#39;');
    expect(oneLine(' a\r\n\tb\u0007 ')).toBe('a b');
  });
});
