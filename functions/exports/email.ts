/**
 * The "your export is ready" email, as text and HTML. Every value that reaches it is escaped for
 * its part, and nothing user-supplied goes into a header but the recipients, which were checked
 * to be plain addresses without line breaks (model.ts) and are passed to SES as a list, not text.
 */
import { escapeHtml, oneLine, type Email } from '../shared/email';

export interface ReadyEmailInput {
  readonly scheduleName: string;
  readonly rows: number;
  readonly bytes: number;
  readonly format: string;
  readonly scheduledAt: string;
  readonly link: string;
  readonly expiresAt: string;
  readonly recipients: readonly string[];
}

export function readyEmail(input: ReadyEmailInput): Email {
  // A subject is a header: no control characters, bounded length.
  const name = oneLine(input.scheduleName).slice(0, 100);
  const size = humanBytes(input.bytes);
  const text = [
    `Your export "${name}" is ready.`,
    '',
    `Rows: ${input.rows}  Size: ${size}  Format: ${input.format.toUpperCase()}`,
    `Scheduled for: ${input.scheduledAt}`,
    '',
    `Download: ${input.link}`,
    '',
    `The link works until ${input.expiresAt}, when the file is deleted.`,
  ].join('\n');
  const html = `<!doctype html><html><body style="font-family:sans-serif">
<p>Your export <strong>${escapeHtml(name)}</strong> is ready.</p>
<p>Rows: ${input.rows} &middot; Size: ${escapeHtml(size)} &middot; Format: ${escapeHtml(input.format.toUpperCase())}<br>Scheduled for: ${escapeHtml(input.scheduledAt)}</p>
<p><a href="${escapeHtml(input.link)}">Download the file</a></p>
<p style="color:#666">The link works until ${escapeHtml(input.expiresAt)}, when the file is deleted.</p>
</body></html>`;
  return { to: input.recipients, subject: `Herald export ready: ${name}`, text, html };
}

function humanBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
