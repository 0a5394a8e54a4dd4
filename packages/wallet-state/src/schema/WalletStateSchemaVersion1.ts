import { createOperations, type EventRule, idField } from './createOperations.js'

/** Version 1: exactly the event kinds of the original wallet-state model. Never edit: old data depends on it. */
export const V1_RULES: Readonly<Record<string, EventRule>> = Object.freeze({
  new_credential: { kind: 'put', collection: 'credentials', key: idField('credentialId') },
  delete_credential: { kind: 'delete', collection: 'credentials', key: idField('credentialId') },
  new_keypair: { kind: 'put', collection: 'keypairs', key: idField('kid') },
  delete_keypair: { kind: 'delete', collection: 'keypairs', key: idField('kid') },
  new_presentation: { kind: 'put', collection: 'presentations', key: idField('presentationId') },
  delete_presentation: { kind: 'delete', collection: 'presentations', key: idField('presentationId') },
  alter_settings: { kind: 'settings' },
  save_credential_issuance_session: {
    kind: 'put',
    collection: 'credentialIssuanceSessions',
    key: idField('sessionId'),
  },
  delete_credential_issuance_session: {
    kind: 'delete',
    collection: 'credentialIssuanceSessions',
    key: idField('sessionId'),
  },
})

export const WalletStateSchemaVersion1 = createOperations(1, { ...V1_RULES })
