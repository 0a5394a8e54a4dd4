import type { PGlite } from '@electric-sql/pglite'
import { NodeFS } from '@electric-sql/pglite/nodefs'

type NodeOps = {
  setattr(node: unknown, attr: { mode?: number }): void
  mknod(parent: unknown, name: string, mode: number, dev: unknown): unknown
}
type Init = Awaited<ReturnType<NodeFS['init']>>

/**
 * PGlite's file system on a real directory, with every file for this user only. Emscripten's
 * NODEFS chmods each file PostgreSQL creates to 0666 after creating it, which a umask cannot stop:
 * the WAL (wallet-state ciphertext) and the relation files would be readable and writable by every
 * local user. Masking the mode of that chmod, and of every file and directory it makes, keeps them
 * 0600 (directories 0700).
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
        // Files and directories made with an explicit mode (a database loaded from a tarball's
        // 0755 directories) are masked too, whatever the process's umask.
        const mknod = ops.mknod.bind(ops)
        ops.mknod = (parent, name, mode, dev) => mknod(parent, name, mode & ~0o077, dev)
      },
    ]
    return result
  }
}
