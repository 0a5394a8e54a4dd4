/** A setting that is a JSON object: given as the object itself (config file) or as its JSON text. */
export function parseJsonObject(raw: unknown, what: string): Record<string, unknown> {
  let value = raw
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw)
    } catch (error) {
      throw new TypeError(`not valid JSON (${(error as Error).message})`)
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`expected a JSON object of ${what}`)
  }
  return value as Record<string, unknown>
}
