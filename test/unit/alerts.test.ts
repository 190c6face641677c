import { describe, expect, it } from 'vitest';
import { alertEmail } from '#functions/alerts/email';
import { alertView, priorityOf, raiseAlertSchema, type Alert } from '#functions/alerts/model';
import * as z from '#functions/shared/validation';

const alert: Alert = {
  tenant: 'acme',
  id: '01J0000000000000000000000A',
  topic: 'site-1',
  rule: 'pressure-high',
  subject: 'pump-7',
  severity: 'critical',
  title: 'Gas leak\r\nBcc: spy@evil.example',
  message: '<script>alert(1)</script>\nLine two',
  status: 'active',
  version: 3,
  change: 'reassigned',
  assigneeId: 'bob',
  previousAssigneeId: 'ana',
  raisedAt: '2026-11-22T10:00:00.000Z',
  raisedBy: 'monitor',
  updatedAt: '2026-11-22T10:05:00.000Z',
  updatedBy: 'ana',
};

describe('alert email', () => {
  it('keeps alert text out of the subject header and escapes it in HTML', () => {
    const email = alertEmail(alert, 'bob@example.com');
    expect(email.to).toEqual(['bob@example.com']);
    expect(email.subject).toBe('[CRITICAL] Alert reassigned: Gas leak Bcc: spy@evil.example');
    expect(email.subject).not.toMatch(/[\r\n]/);
    expect(email.html).not.toContain('<script>');
    expect(email.html).toContain('&lt;script&gt;');
    expect(email.text).toContain('Assignee: bob');
    expect(email.text).toContain('Alert 01J0000000000000000000000A, version 3.');
  });

  it('caps a long title in the subject', () => {
    expect(alertEmail({ ...alert, title: 'x'.repeat(200) }, 'bob@example.com').subject.length).toBeLessThanOrEqual(160);
  });
});

describe('alert model', () => {
  it('maps severity to a notification priority that lets only critical through a mute', () => {
    expect(['low', 'medium', 'high', 'critical'].map((severity) => priorityOf(severity as Alert['severity']))).toEqual([
      'normal',
      'normal',
      'high',
      'critical',
    ]);
  });

  it('shows neither the tenant nor the previous assignee', () => {
    const view = alertView(alert) as Record<string, unknown>;
    expect(view.tenant).toBeUndefined();
    expect(view.previousAssigneeId).toBeUndefined();
    expect(view.id).toBe(alert.id);
  });

  it('rejects control characters in rule and subject, which become part of a key', () => {
    const result = raiseAlertSchema.safeParse({ topic: 't', rule: 'a\u0000b', subject: 's', severity: 'low', title: 'x' });
    expect(result.success).toBe(false);
    expect(z.describeIssues(result.error!)).toContain('rule');
  });
});
