// The compiler's one-shot entry: cluster state + node name → the node's `inet palisade` table. Pure and total: a
// broken policy becomes a diagnostic and a chain that allows nothing, never an exception. The agent keeps a
// NodeCompiler (node-compiler.ts) across syncs instead, so each change costs only what it touches; both give
// the same table for the same state (node-compiler.test.ts checks it).
import type { ClusterState } from '../model/cluster.js';
import { type CompileResult, NodeCompiler, type NodeCompilerOptions } from './node-compiler.js';

export type { CompileResult, Diagnostic, NodeCompilerOptions } from './node-compiler.js';
export { selects } from './pod-sets.js';

export function compileNode(
  state: ClusterState,
  node: string,
  opts: NodeCompilerOptions = {},
): CompileResult {
  return new NodeCompiler(node, opts).compile(state);
}
