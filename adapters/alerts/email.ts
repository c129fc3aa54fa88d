/** E-mail channel over SMTP (nodemailer). Errors name the SMTP step, never the URL (it may hold a password). */
import nodemailer from 'nodemailer';

export interface EmailOptions {
  smtpUrl: string;
  from: string;
  to: string;
  timeoutMs: number;
}

export class EmailDeliveryError extends Error {
  override name = 'EmailDeliveryError';
}

export async function sendEmail(opts: EmailOptions, mail: { subject: string; text: string }): Promise<void> {
  const transport = nodemailer.createTransport({
    url: opts.smtpUrl,
    connectionTimeout: opts.timeoutMs,
    greetingTimeout: opts.timeoutMs,
    socketTimeout: opts.timeoutMs,
  });
  try {
    await transport.sendMail({ from: opts.from, to: opts.to, subject: mail.subject, text: mail.text });
  } catch (err) {
    const e = err as { code?: string; command?: string; responseCode?: number };
    const what = [e.code, e.command, e.responseCode].filter((x) => x !== undefined).join(' ');
    throw new EmailDeliveryError(`email: ${what || 'failed'}`);
  } finally {
    transport.close();
  }
}
