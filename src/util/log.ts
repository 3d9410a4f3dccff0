// The logging interface every component receives (pino's call shape: fields first, constant message second).
// Long-lived processes pass a pino logger; the CNI plugin, whose start-up is latency, uses the JSON-lines writer
// below, which loads nothing.

export type Level = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export interface Logger {
  debug(fields: object, msg: string): void;
  info(fields: object, msg: string): void;
  warn(fields: object, msg: string): void;
  error(fields: object, msg: string): void;
  child(bindings: object): Logger;
}

const RANK: Record<Level, number> = { debug: 20, info: 30, warn: 40, error: 50, silent: 100 };

export function isLevel(v: unknown): v is Level {
  return typeof v === 'string' && v in RANK;
}

function errorFields(fields: object): object {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    out[k] = v instanceof Error ? { type: v.name, message: v.message } : v;
  }
  return out;
}

/** A JSON-lines logger (pino-compatible line format) writing to a sink such as process.stderr. */
export function createLineLogger(opts: {
  level: Level;
  write: (line: string) => void;
  bindings?: object;
  now?: () => number;
}): Logger {
  const min = RANK[opts.level];
  const now = opts.now ?? Date.now;
  const emit = (level: Exclude<Level, 'silent'>, fields: object, msg: string) => {
    if (RANK[level] < min) return;
    const record = { level: RANK[level], time: now(), ...opts.bindings, ...errorFields(fields), msg };
    opts.write(`${JSON.stringify(record)}\n`);
  };
  return {
    debug: (f, m) => emit('debug', f, m),
    info: (f, m) => emit('info', f, m),
    warn: (f, m) => emit('warn', f, m),
    error: (f, m) => emit('error', f, m),
    child: (bindings) => createLineLogger({ ...opts, bindings: { ...opts.bindings, ...bindings } }),
  };
}

export function createNullLogger(): Logger {
  return createLineLogger({ level: 'silent', write: () => {} });
}
