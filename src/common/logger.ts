import pino, { Logger } from 'pino';

export type { Logger };

/**
 * Secrets this process knows (the database password, the SQS secret key): whatever carries them —
 * a log line, an error's message or stack, the one line `ferry` prints before it exits — goes out
 * with each replaced. Registered once, where the configuration is read.
 */
const secrets = new Map<string, RegExp | null>();

export function registerSecret(value: string | undefined): void {
  if (!value) return;
  for (const form of [value, encodeURIComponent(value), JSON.stringify(value).slice(1, -1)]) {
    // a short one only as a word of its own: a password "app" must not mask "application"
    const esc = form.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    secrets.set(form, form.length < 8 ? new RegExp(`(?<![A-Za-z0-9])${esc}(?![A-Za-z0-9])`, 'g') : null);
  }
}

/** A password in any URL (scheme://user:password@host) and every registered secret, masked. */
export function redactSecrets(text: string): string {
  let out = text.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s"]*:)[^@/\s"]+@/gi, '$1***@');
  for (const [s, word] of secrets) if (out.includes(s)) out = word ? out.replace(word, '***') : out.split(s).join('***');
  return out;
}

/**
 * One root logger per process; components take child loggers ({ role, origin }) so every line says
 * which stream it is about. FERRY_LOG_LEVEL overrides the level. Every line passes redactSecrets on
 * its way out (one place, whatever field or error a secret hides in); the redact paths spare the
 * work for the fields known to carry one.
 */
export function createLogger(level = process.env.FERRY_LOG_LEVEL ?? 'info'): Logger {
  return pino(
    {
      level,
      base: { svc: 'ferry' },
      redact: { paths: ['database', '*.database', 'password', '*.password', 'url', '*.url', 'secretAccessKey', '*.secretAccessKey', 'peerDatabases.*', '*.peerDatabases.*'], censor: '[redacted]' },
    },
    { write: (line: string) => process.stdout.write(redactSecrets(line)) },
  );
}

/** Removes the password from a postgres:// URL so it can be shown in messages and logs. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparseable url>';
  }
}
