import { describe, expect, it } from 'vitest';
import { ForbiddenError } from '#functions/shared/errors';
import { httpRoute, MAX_JSON_BODY_BYTES, parseJsonBody, type HttpEvent } from '#functions/shared/http';
import * as z from '#functions/shared/validation';

const schema = z.strictObject({ name: z.string().check(z.minLength(1)), recipients: z.array(z.email()).check(z.maxLength(2)) });
const event = (body: string | undefined, isBase64Encoded = false) => ({ body, isBase64Encoded }) as unknown as HttpEvent;
const route = httpRoute(async (input) => ({ statusCode: 200, body: JSON.stringify(parseJsonBody(input, schema)) }));

describe('HTTP edge', () => {
  it('parses a valid body, including a base64 one', async () => {
    const body = JSON.stringify({ name: 'daily', recipients: ['ops@example.com'] });
    expect((await route(event(body))).statusCode).toBe(200);
    expect((await route(event(Buffer.from(body).toString('base64'), true))).body).toBe(body);
  });

  it('answers 400 naming the offending field', async () => {
    const result = await route(event(JSON.stringify({ name: '', recipients: ['ops@example.com', 'not-an-address'] })));
    expect(result.statusCode).toBe(400);
    const { error } = JSON.parse(result.body ?? '{}');
    expect(error.code).toBe('invalid_body');
    expect(error.message).toContain('name:');
    expect(error.message).toContain('recipients.1:');
  });

  it('answers 400 for JSON that does not parse and 413 for an oversized body', async () => {
    expect(JSON.parse((await route(event('{"name":'))).body ?? '{}').error.code).toBe('invalid_json');
    expect((await route(event(`{"name":"${'x'.repeat(MAX_JSON_BODY_BYTES)}"}`))).statusCode).toBe(413);
  });

  it('maps domain errors to their status and hides anything else behind a 500', async () => {
    const forbidden = await httpRoute(async () => {
      throw new ForbiddenError('Not your tenant');
    })(event(undefined));
    expect(forbidden.statusCode).toBe(403);
    expect(JSON.parse(forbidden.body ?? '{}')).toEqual({ error: { code: 'forbidden', message: 'Not your tenant' } });

    const crash = await httpRoute(async () => {
      throw new Error('connection string postgres://secret@db');
    })(event(undefined));
    expect(crash.statusCode).toBe(500);
    expect(crash.body).not.toContain('secret');
  });
});
