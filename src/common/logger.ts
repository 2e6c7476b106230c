import pino, { Logger } from 'pino';

export type { Logger };

/**
 * One root logger per process; components take child loggers ({ role, origin }) so every line says
 * which stream it is about. FERRY_LOG_LEVEL overrides the level. Connection strings are redacted
 * because they carry passwords.
 */
export function createLogger(level = process.env.FERRY_LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { svc: 'ferry' },
    redact: { paths: ['database', '*.database', 'password', '*.password', 'url', '*.url', 'peerDatabases.*', '*.peerDatabases.*'], censor: '[redacted]' },
  });
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
