// Plain-text logs for the pod server (it is bundled and started per pod, so no pino): one line per event on
// stderr, which the lab redirects to the pod's log file. Constant messages; data in key=value fields.

export type LogLevel = 'info' | 'warn' | 'error';
export type LogFields = Readonly<Record<string, unknown>>;

export interface PodLog {
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

function formatValue(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  if (v instanceof Error) return JSON.stringify(v.message);
  return JSON.stringify(v) ?? String(v);
}

/** "2026-11-24T08:00:00.000Z info ready id=ns/pod ms=41.2" */
export function formatLogLine(time: Date, level: LogLevel, msg: string, fields: LogFields = {}): string {
  const kv = Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}=${formatValue(v)}`)
    .join('');
  return `${time.toISOString()} ${level} ${msg}${kv}\n`;
}

export function createLineLog(
  write: (line: string) => void,
  base: LogFields = {},
  now = () => new Date(),
): PodLog {
  const at =
    (level: LogLevel) =>
    (msg: string, fields: LogFields = {}): void =>
      write(formatLogLine(now(), level, msg, { ...base, ...fields }));
  return { info: at('info'), warn: at('warn'), error: at('error') };
}
