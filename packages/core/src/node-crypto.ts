/**
 * The seam to Node's crypto for the one fast path (proof-jws.ts). No static `node:` import, so
 * the core still loads on Web-standard runtimes, where this returns `undefined`.
 */
type NodeCrypto = typeof import('node:crypto');
export type NodeKeyObject = import('node:crypto').KeyObject;

let cached: NodeCrypto | null | undefined;

/** `node:crypto` when running on Node (≥ 20.16 has `process.getBuiltinModule`), else `undefined`. */
export function nodeCrypto(): NodeCrypto | undefined {
  if (cached === undefined) {
    const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
    cached = (proc?.getBuiltinModule?.('node:crypto') as NodeCrypto | undefined) ?? null;
  }
  return cached ?? undefined;
}
