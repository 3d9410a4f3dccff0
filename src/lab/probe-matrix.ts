// Reachability matrices: built from probe results, printed as a table for people and as JSON for the CLI.
// Pure. Rows are sources ("from"), columns are destinations ("to"); keys are "<namespace>/<pod>", sorted.
import type { Protocol } from './pod-server-config.js';
import type { ProbeResult } from './pod-server-protocol.js';

export type Matrix = Record<string, Record<string, boolean>>;
export type Details = Record<string, Record<string, ProbeResult>>;

export interface MatrixJson {
  readonly port: number;
  readonly protocol: Lowercase<Protocol>;
  readonly matrix: Matrix;
}

function byKey(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The matrix of `ok` values, with rows and columns in key order. */
export function matrixFromDetails(details: Details): Matrix {
  const matrix: Matrix = {};
  for (const from of Object.keys(details).sort(byKey)) {
    const row: Record<string, boolean> = {};
    const results = details[from]!;
    for (const to of Object.keys(results).sort(byKey)) row[to] = results[to]!.ok;
    matrix[from] = row;
  }
  return matrix;
}

/** Exactly what `palisade lab probe --json` prints: `{"port":80,"protocol":"tcp","matrix":{...}}`. */
export function matrixToJson(
  opts: { readonly port: number; readonly protocol: Protocol },
  matrix: Matrix,
): MatrixJson {
  const sorted: Matrix = {};
  for (const from of Object.keys(matrix).sort(byKey)) {
    const row = matrix[from]!;
    sorted[from] = Object.fromEntries(
      Object.keys(row)
        .sort(byKey)
        .map((to) => [to, row[to]!]),
    );
  }
  return { port: opts.port, protocol: opts.protocol.toLowerCase() as Lowercase<Protocol>, matrix: sorted };
}

/**
 * A table readable for dozens of pods: pods are numbered, rows name them, columns carry only the number.
 *
 *   from \ to    1  2
 *   1 default/a  ✓  ✗
 *   2 default/b  ✓  ✓
 */
export function renderMatrixTable(matrix: Matrix): string {
  const rows = Object.keys(matrix).sort(byKey);
  const cols = [...new Set(rows.concat(...rows.map((r) => Object.keys(matrix[r]!))))].sort(byKey);
  if (cols.length === 0) return '(no pods)\n';
  const index = new Map(cols.map((k, i) => [k, i + 1]));
  const numWidth = String(cols.length).length;
  const cell = (s: string): string => s.padStart(numWidth + 2);
  const labels = rows.map((k) => `${String(index.get(k)).padStart(numWidth)} ${k}`);
  const header = 'from \\ to';
  const labelWidth = Math.max(header.length, ...labels.map((l) => l.length));
  const lines = [header.padEnd(labelWidth) + cols.map((_, i) => cell(String(i + 1))).join('')];
  rows.forEach((from, r) => {
    const row = matrix[from]!;
    const marks = cols.map((to) => cell(row[to] === undefined ? '?' : row[to] ? '✓' : '✗'));
    lines.push(labels[r]!.padEnd(labelWidth) + marks.join(''));
  });
  const unlisted = cols.filter((k) => !(k in matrix)).map((k) => `${index.get(k)} ${k}`);
  if (unlisted.length > 0) lines.push(`columns without a row: ${unlisted.join(', ')}`);
  lines.push('✓ reachable   ✗ not reachable   ? not probed   (column n is pod n)');
  return `${lines.join('\n')}\n`;
}
