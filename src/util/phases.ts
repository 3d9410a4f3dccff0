// Where an operation's time goes: lap('name') records the ms since the previous lap (or the start), rounded to
// 0.1 ms, for the operation's log line.
export function phaseTimer(now: () => number = () => performance.now()) {
  const ms: Record<string, number> = {};
  let t = now();
  return {
    ms,
    lap(phase: string): void {
      const n = now();
      ms[phase] = Math.round((n - t) * 10) / 10;
      t = n;
    },
  };
}
