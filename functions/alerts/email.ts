import { escapeHtml, oneLine, type Email } from '../shared/email';
import type { Alert, AlertChange } from './model';

const headline: Record<AlertChange, string> = {
  raised: 'Alert raised',
  acknowledged: 'Alert acknowledged',
  reopened: 'Alert reopened',
  resolved: 'Alert resolved',
  reassigned: 'Alert reassigned',
};

/**
 * The email of one change of a critical alert, as text and HTML. Alert fields are user text: the
 * subject (a header) gets them through oneLine and a length cap, the HTML escaped, and the
 * recipient comes from the user's own checked preferences, passed to SES as a list.
 */
export function alertEmail(alert: Alert, to: string): Email {
  const title = oneLine(alert.title).slice(0, 120);
  const what = headline[alert.change];
  const facts: Array<[string, string]> = [
    ['Severity', alert.severity.toUpperCase()],
    ['Status', alert.status],
    ['Topic', alert.topic],
    ['Rule', alert.rule],
    ['Subject', alert.subject],
    ['Assignee', alert.assigneeId ?? 'nobody'],
    ['Raised', alert.raisedAt],
    ['Changed', `${alert.updatedAt} by ${alert.updatedBy}`],
  ];
  const text = [
    `${what}: ${alert.title}`,
    '',
    ...(alert.message ? [alert.message, ''] : []),
    ...facts.map(([label, value]) => `${label}: ${value}`),
    '',
    `Alert ${alert.id}, version ${alert.version}.`,
  ].join('\n');
  const html = `<!doctype html><html><body style="font-family:sans-serif">
<p style="color:#b00020"><strong>${escapeHtml(what)}</strong></p>
<h2 style="margin:0">${escapeHtml(alert.title)}</h2>
${alert.message ? `<p style="white-space:pre-wrap">${escapeHtml(alert.message)}</p>` : ''}
<table>${facts.map(([label, value]) => `<tr><th align="left">${escapeHtml(label)}</th><td>${escapeHtml(value)}</td></tr>`).join('')}</table>
<p style="color:#666">Alert ${escapeHtml(alert.id)}, version ${alert.version}.</p>
</body></html>`;
  return { to: [to], subject: oneLine(`[CRITICAL] ${what}: ${title}`), text, html };
}
