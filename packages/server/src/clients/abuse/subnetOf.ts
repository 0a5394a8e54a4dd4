import { isIPv4, isIPv6 } from 'node:net'

/** The /24 of an IPv4 address or the /48 of an IPv6 one: what one attacker plausibly controls. */
export function subnetOf(ip: string): string {
  const mapped = ip.startsWith('::ffff:') && isIPv4(ip.slice(7)) ? ip.slice(7) : ip
  if (isIPv4(mapped)) return `${mapped.split('.').slice(0, 3).join('.')}.0/24`
  if (isIPv6(mapped)) {
    const [head = '', tail = ''] = mapped.split('::')
    const left = head ? head.split(':') : []
    const right = tail ? tail.split(':') : []
    const groups = [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right]
    return `${groups
      .slice(0, 3)
      .map((g) => g.toLowerCase().replace(/^0+(?=.)/, ''))
      .join(':')}::/48`
  }
  return ip
}
