/**
 * RFC 8785 JSON Canonicalization Scheme: object keys sorted by UTF-16 code units, no whitespace,
 * numbers in ECMAScript's shortest form, strings as JSON.stringify writes them. Equal values have
 * equal bytes, which is what hashing needs. `undefined` members are left out, as in JSON.
 */
export function canonicalize(value: unknown): string {
  // JSON.stringify writes exactly these bytes for plain data whose keys are already in order —
  // what a parsed canonical container is made of — and does it natively, many times faster.
  if (isOrderedJson(value)) return JSON.stringify(value)
  return slowCanonicalize(value)
}

function slowCanonicalize(value: unknown): string {
  if (value === null) return 'null'
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false'
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('canonical JSON has no NaN or Infinity')
      return JSON.stringify(value)
    case 'string':
      return JSON.stringify(value)
    case 'object': {
      if (Array.isArray(value))
        return `[${value.map((item) => slowCanonicalize(item === undefined ? null : item)).join(',')}]`
      const entries = Object.entries(value as Record<string, unknown>)
        .filter(([, item]) => item !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${slowCanonicalize(item)}`).join(',')}}`
    }
    default:
      throw new TypeError(`canonical JSON cannot hold a ${typeof value}`)
  }
}

/** Plain JSON data (no undefined, NaN, toJSON or class instances) whose object keys are sorted. */
function isOrderedJson(value: unknown): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true
    case 'number':
      return Number.isFinite(value)
    case 'object': {
      if (value === null) return true
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) if (!isOrderedJson(value[i])) return false
        return true
      }
      const proto = Object.getPrototypeOf(value)
      if (proto !== Object.prototype && proto !== null) return false
      let previous: string | undefined
      for (const key in value) {
        if (!Object.hasOwn(value, key)) return false
        if (previous !== undefined && !(previous < key)) return false
        if (!isOrderedJson((value as Record<string, unknown>)[key])) return false
        previous = key
      }
      return true
    }
    default:
      return false
  }
}
