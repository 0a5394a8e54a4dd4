import { randomBytes } from 'node:crypto'

/** A fresh address nobody else watches, so that each attack's interests are its own. */
export const randomAddress = (): `0x${string}` => `0x${randomBytes(20).toString('hex')}`
