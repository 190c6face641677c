/**
 * What every Herald email is made of, and the checks that keep user text out of its headers.
 * SES v1 SendEmail builds the MIME message from these structured fields (adapters/ses-mailer.ts),
 * so no header is ever assembled from text; the subject is the one header that carries user
 * text, and it goes through oneLine first.
 */
import * as z from './validation';

/** One plain address: no display name, no whitespace or line breaks that could reach a mail header. */
export const EMAIL = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

export interface Email {
  readonly to: readonly string[];
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

/** Sends one email (functions/adapters/ses-mailer.ts). */
export interface Mailer {
  send(email: Email): Promise<void>;
}

/**
 * SES refused a message for good (SES v1 `MessageRejected`), as adapters/ses-mailer.ts reports it.
 * In the SES sandbox a recipient that is not verified refuses the whole message, and retrying
 * cannot change the answer, so the alert fan-out and the export worker record the refusal, count
 * it and go on (docs/operations.md, "Email refusals"). A sender SES has not verified is not
 * reported this way: that is a deployment fault, and fails like any other error.
 */
export class EmailRejected extends Error {
  override name = 'EmailRejected';

  constructor(
    /** The recipients of the refused message. */
    readonly recipients: readonly string[],
    /** SES's own words. */
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(`SES refused the email to ${recipients.join(', ')}: ${reason}`, options);
  }
}

/** One plain address: no display name, and no CR or LF that could reach a header. */
export const emailAddressSchema = z.string().check(
  z.maxLength(254),
  z.refine((value) => !/[\r\n]/.test(value), { message: 'must not contain line breaks' }),
  z.refine((value) => EMAIL.test(value), { message: 'must be an email address such as ana@example.com' }),
);

/** Control characters (CR and LF above all) become spaces: for a subject, which is a header. */
export function oneLine(text: string): string {
  return text.replace(/[\u0000-\u001F\u007F]+/g, ' ').trim();
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char]!);
}
