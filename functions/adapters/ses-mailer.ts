import { SendEmailCommand, type SESClient } from '@aws-sdk/client-ses';
import type { Mailer } from '../shared/email';

/**
 * SES v1 SendEmail: SES builds the MIME message itself from structured fields, so no header is
 * ever assembled from text here. One send per email; SES allows 50 destinations, as many as a
 * schedule may have recipients.
 */
export function sesMailer(client: SESClient, sender: string): Mailer {
  return {
    async send(email) {
      await client.send(
        new SendEmailCommand({
          Source: sender,
          Destination: { ToAddresses: [...email.to] },
          Message: {
            Subject: { Data: email.subject, Charset: 'UTF-8' },
            Body: { Text: { Data: email.text, Charset: 'UTF-8' }, Html: { Data: email.html, Charset: 'UTF-8' } },
          },
        }),
      );
    },
  };
}
