import { Type } from '@sinclair/typebox'

/** Hex text: addresses, hashes, data. */
export const Hex = Type.TemplateLiteral([Type.Literal('0x'), Type.String()])

/** A block by number and hash. */
export const BlockRef = Type.Object({ number: Type.Integer(), hash: Hex })

/** A position in a client's queue: cursors only grow. */
export const Cursor = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })

export const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(
  schema: T,
  options?: Parameters<typeof Type.Union>[1],
) => Type.Union([schema, Type.Null()], options)
