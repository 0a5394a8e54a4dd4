import type { AccountActivity, DeliveryItem } from './types.js'
/** The activity an `account` item carries, or undefined for items of other kinds. */
export function accountActivityOf(item: DeliveryItem): AccountActivity | undefined {
  return item.kind === 'account' ? item.data : undefined
}
