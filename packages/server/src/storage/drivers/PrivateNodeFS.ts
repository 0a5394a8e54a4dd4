import type { PGlite } from '@electric-sql/pglite'
import { NodeFS } from '@electric-sql/pglite/nodefs'

type NodeOps = { setattr(node: unknown, attr: { mode?: number }): void }
type Init = Awaited<ReturnType<NodeFS['init']>>

/**
 * PGlite's file system on a real directory, with every file for this user only. Emscripten's
 * NODEFS chmods each file PostgreSQL creates to 0666 after creating it, which a umask cannot stop:
 * the WAL (wallet-state ciphertext) and the relation files would be readable and writable by every
 * local user. Masking the mode of that chmod keeps them 0600 (directories 0700).
 */
export class PrivateNodeFS extends NodeFS {
  override async init(pg: PGlite, opts: Parameters<NodeFS['init']>[1]): Promise<Init> {
    const result = await super.init(pg, opts)
    const preRun = result.emscriptenOpts.preRun ?? []
    result.emscriptenOpts.preRun = [
      ...preRun,
      (module: { NODEFS: unknown }) => {
        const ops = (module.NODEFS as { node_ops: NodeOps }).node_ops
        const setattr = ops.setattr.bind(ops)
        ops.setattr = (node, attr) =>
          setattr(node, attr.mode === undefined ? attr : { ...attr, mode: attr.mode & ~0o077 })
      },
    ]
    return result
  }
}
