import { MessageRejected, SendEmailCommand, type SESClient } from '@aws-sdk/client-ses';
import { EmailRejected, type Mailer } from '../shared/email';

/**
 * SES v1 SendEmail: SES builds the MIME message itself from structured fields, so no header is
 * ever assembled from text here. One send per email; SES allows 50 destinations, as many as a
 * schedule may have recipients. Every send names `configurationSet`, whose events SES counts in
 * CloudWatch for the bounce and complaint alarms (docs/runbook.md).
 *
 * SES's `MessageRejected` becomes EmailRejected (a refusal of these recipients, which callers
 * record and go on from), except when SES names the sender among the identities it could not
 * verify: then every email fails the same way, so it fails as an ordinary error, retried and
 * alarmed, with a pointer to the verification step.
 */
export function sesMailer(client: SESClient, sender: string, configurationSet: string): Mailer {
  return {
    async send(email) {
      try {
        await client.send(
          new SendEmailCommand({
            Source: sender,
            ConfigurationSetName: configurationSet,
            Destination: { ToAddresses: [...email.to] },
            Message: {
              Subject: { Data: email.subject, Charset: 'UTF-8' },
              Body: { Text: { Data: email.text, Charset: 'UTF-8' }, Html: { Data: email.html, Charset: 'UTF-8' } },
            },
          }),
        );
      } catch (error) {
        if (!(error instanceof MessageRejected || (error as Error | undefined)?.name === 'MessageRejected')) throw error;
        const reason = (error as Error).message;
        if (unverifiedIdentities(reason).some((identity) => identity === sender.toLowerCase() || identity === sender.split('@')[1]?.toLowerCase())) {
          throw new Error(`SES has not verified the sender ${sender}: ${reason} (docs/deploy.md, "SES")`, { cause: error });
        }
        throw new EmailRejected(email.to, reason, { cause: error });
      }
    },
  };
}

/**
 * The identities SES lists in "Email address is not verified. The following identities failed the
 * check in region EU-WEST-1: a@example.com, b@example.com", lower-cased; none for other messages.
 */
export function unverifiedIdentities(message: string): string[] {
  const match = /failed the check in region [^:]*:\s*(.*)$/is.exec(message);
  if (!match) return [];
  return match[1]!
    .split(',')
    .map((identity) => identity.trim().replace(/\.$/, '').toLowerCase())
    .filter(Boolean);
}
