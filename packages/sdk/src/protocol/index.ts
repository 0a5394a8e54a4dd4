/**
 * The wire contract of wallet-backend: the TypeBox schemas of its HTTP API and of the frames of
 * its stream. The server validates and serializes with them; the SDK's types are derived from
 * them. Import this subpath for runtime schemas (e.g. to validate frames); the SDK's main entry
 * uses types only, so it carries none of this.
 */
export * from './common.js'
export * from './deliveries.js'
export * from './deliveryItem.js'
export * from './errorCodes.js'
export * from './errorResponse.js'
export * from './resources.js'
export * from './streamFrames.js'
