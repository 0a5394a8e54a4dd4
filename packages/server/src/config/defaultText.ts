/**
 * A setting's default as an operator would type it: a list comma-separated, an object (plans,
 * request costs) as JSON; `undefined` when there is none.
 */
export function defaultText(value: unknown): string | undefined {
  if (value === undefined || (Array.isArray(value) && value.length === 0)) return undefined
  if (Array.isArray(value)) return value.join(',')
  if (typeof value === 'object' && value !== null) return JSON.stringify(value)
  return String(value)
}
