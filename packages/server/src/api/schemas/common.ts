import { Type } from '@sinclair/typebox'

export const AddressParam = Type.String({
  pattern: '^0x[0-9a-fA-F]{40}$',
  description: 'A contract address (20 bytes, hex); it need not be deployed yet',
})

export const BlockRef = Type.Object({ number: Type.Integer(), hash: Type.String() })
